"""A search's run folder and TensorBoard log (CleanRL/SB3 style), and its progress bar.

A run folder ``TASK__AGENT__seedS__TIME`` holds ``config.json``, ``command.txt``, ``records.jsonl``
(every measured candidate as an episode record), ``best.json`` and the TensorBoard events:
``search/*`` per trial, ``measure/errors``, the agent's own ``agent/*`` and the hparams.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from msgym.envs.records import EpisodeRecord, append
from msgym.tasks import Task

__all__ = ["RunLog", "command_line", "progress_bar"]


def command_line() -> str:
    """The command that made a result, as a user would retype it: ``msgym ...`` however the CLI was started."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("msgym", "cli.py"):
        argv[0] = "msgym"
    return " ".join(shlex.quote(arg) for arg in argv)


def hparam(value: Any) -> "int | float | str | bool":
    return value if isinstance(value, (int, float, str, bool)) else str(value)


class RunLog:
    """Writes one search's folder; ``RunLog(None, ...)`` writes nothing."""

    def __init__(
        self, logdir: "str | Path | None", task: Task, agent: str, agent_hparams: dict, seed: int, trials: int
    ):
        self.task, self.run_dir, self.writer = task, None, None
        if logdir is None:
            return
        from torch.utils.tensorboard import SummaryWriter

        safe = task.name.replace("/", "_").replace(":", "_")
        self.run_dir = Path(logdir) / f"{safe}__{agent}__seed{seed}__{time.strftime('%Y%m%d-%H%M%S')}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "task": task.spec,
            "target": str(task.target),
            "space": task.space_kind,
            "agent": agent,
            "agent_options": {k: hparam(v) for k, v in agent_hparams.items()},
            "seed": seed,
            "trials": trials,
        }
        (self.run_dir / "config.json").write_text(json.dumps(config, indent=1))
        (self.run_dir / "command.txt").write_text(command_line() + "\n")
        self.writer = SummaryWriter(str(self.run_dir))

    def trial(
        self,
        step: int,
        record: EpisodeRecord,
        best: "EpisodeRecord | None",
        errors: int,
        baseline_s: float,
        wall_s: float,
    ) -> None:
        if self.run_dir is None:
            return
        append(self.run_dir / "records.jsonl", record)
        w, gflops = self.writer, self.task.gflops
        w.add_scalar("measure/errors", errors, step)
        w.add_scalar("search/reward", record.reward, step)  # the episode reward: log speedup
        if record.latency_s:
            w.add_scalar("search/latency_ms", record.latency_s * 1e3, step)
            w.add_scalar("search/gflops", gflops(record.latency_s), step)
            w.add_scalar("search/speedup", record.speedup, step)
        if best is not None:
            w.add_scalar("search/best_latency_ms", best.latency_s * 1e3, step)
            w.add_scalar("search/best_gflops", gflops(best.latency_s), step)
            w.add_scalar("search/best_speedup", baseline_s / best.latency_s, step)
            w.add_scalar("search/best_gflops_vs_wall_s", gflops(best.latency_s), int(wall_s * 1e3))

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def close(self, hparams: dict[str, Any], best: "EpisodeRecord | None", best_gflops: float) -> None:
        if self.writer is not None:
            self.writer.add_hparams(
                {k: hparam(v) for k, v in hparams.items()}, {"hparam/best_gflops": best_gflops}, run_name="."
            )
            self.writer.close()
        if self.run_dir is not None and best is not None:
            (self.run_dir / "best.json").write_text(json.dumps(best.to_json(), indent=1))


class _NoBar:
    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


def progress_bar(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="trial")
