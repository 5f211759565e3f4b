"""One search interface: a strategy proposes candidates, the loop measures them and logs.

A strategy (``agents/<name>.py``) never builds or times a kernel: the loop owns the budget, the
measurer and the logging (TensorBoard tags ``search/*`` and ``measure/*``; records as JSON lines).
``create(name)`` makes a strategy from its short name; ``tune`` accepts a name or an instance.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from msgym.measure import MeasureResult, Measurer
from msgym.records import EpisodeRecord, append
from msgym.space import DesignSpaces, design_spaces, freeze_decisions
from msgym.tasks import Task, get_task

__all__ = ["Candidate", "SearchContext", "SearchStrategy", "Search", "create", "tune", "TuneResult", "AGENTS"]

# Agents by short name; each is agents/<name with - as _>.py defining Strategy.
AGENTS = ("random", "evolutionary", "ppo", "ppo-pretrained", "metaschedule")


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A point of a task's design space: which space, and one decision per sampling instruction."""

    space: int
    decisions: tuple

    @classmethod
    def of(cls, space: int, decisions: list[Any]) -> "Candidate":
        return cls(space, freeze_decisions(decisions))

    def decision_list(self) -> list[Any]:
        return [list(d) if isinstance(d, tuple) else d for d in self.decisions]


@dataclasses.dataclass(frozen=True)
class SearchContext:
    """What a strategy may know about the search it is part of."""

    spaces: DesignSpaces
    seed: int = 0
    trials: int | None = None  # the budget of measured candidates
    baseline_s: float | None = None  # latency of the unscheduled program (rewards are relative to it)
    run_dir: Path | None = None  # where a strategy may write its own logs and checkpoints

    @property
    def task(self) -> Task:
        return self.spaces.task


class SearchStrategy:
    """Proposes candidates and learns from their measured results.

    ``propose(n)`` returns at most ``n`` candidates (fewer is fine; none means the strategy has
    nothing left to propose); ``observe`` then receives all of their results, in order."""

    name = "base"

    def setup(self, context: SearchContext) -> None:
        self.context, self.spaces, self.seed = context, context.spaces, context.seed

    def propose(self, n: int) -> list[Candidate]:
        raise NotImplementedError

    def observe(self, candidates: list[Candidate], results: list[MeasureResult]) -> None:
        """Told every measured result of its proposals (default: ignore)."""

    def hparams(self) -> dict[str, Any]:
        """The strategy's settings, logged as TensorBoard hparams and into the run's config."""
        return {}

    def scalars(self) -> dict[str, float]:
        """The strategy's own running figures, logged after every batch as ``agent/<name>``."""
        return {}

    def close(self) -> None:
        """Release what the strategy holds (threads, files); the loop calls it once, at the end."""


def parse_options(pairs: "list[str] | None", what: str = "agent option") -> dict[str, Any]:
    """KEY=VALUE pairs; values read as JSON when they parse (numbers, booleans), else as text."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"an {what} is KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def parse_agent(spec: str) -> tuple[str, dict[str, Any]]:
    """``"evolutionary:cost_model=mlp:population=32"`` -> ("evolutionary", {"cost_model": "mlp", ...}):
    one agent with options in one string, so a bench can compare variants of an agent."""
    name, *pairs = spec.split(":")
    return name, parse_options(pairs)


def create(kind: "str | SearchStrategy", **kwargs: Any) -> SearchStrategy:
    """A strategy from its short name (``AGENTS``, optionally ``name:key=value:...``) and its
    options, or ``kind`` itself."""
    if isinstance(kind, SearchStrategy):
        if kwargs:
            raise ValueError(f"agent options {sorted(kwargs)} given with an agent instance; set them on it instead")
        return kind
    kind, spec_options = parse_agent(kind)
    kwargs = {**spec_options, **kwargs}
    if kind not in AGENTS:
        raise ValueError(f"unknown agent {kind!r}; choose one of {', '.join(AGENTS)}")
    cls = importlib.import_module(f"agents.{kind.replace('-', '_')}").Strategy
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as err:  # an unknown option: name the ones there are
        params = ", ".join(inspect.signature(cls).parameters) or "none"
        raise ValueError(f"agent {kind!r}: {err}; its options are: {params}") from err
    return cls(**kwargs)


@dataclasses.dataclass
class TuneResult:
    task: str
    agent: str
    seed: int
    trials: int
    best: EpisodeRecord | None
    errors: int
    wall_s: float
    curve: list[float]  # best latency (s) after each trial; inf before the first success
    curve_wall_s: list[float]  # wall seconds since the start, after each trial
    best_gflops: float
    run_dir: str | None


class Search:
    """One agent searching one task, a batch at a time: ``tune`` runs one to its budget; whole-model
    tuning interleaves several (one per task of the model) under a shared budget."""

    def __init__(self, task: "str | Task", agent: "str | SearchStrategy" = "random", trials: int = 16, seed: int = 0,
                 logdir: "str | Path | None" = None, measurer: Measurer | None = None, progress: bool = True,
                 remeasure: bool = False, agent_options: dict[str, Any] | None = None):
        if not isinstance(trials, int) or trials < 1:
            raise ValueError(f"trials must be a positive integer, got {trials!r}")
        self.task = get_task(task)
        self.strategy = create(agent, **(agent_options or {}))
        self.spaces = design_spaces(self.task)
        self.measurer = measurer or Measurer.shared()
        self.baseline = self.measurer.baseline(self.task).latency_s
        self.trials, self.seed, self.remeasure = trials, seed, remeasure
        self.run_dir, self.writer = _open_run(logdir, self.task, self.strategy, seed, trials)
        self.strategy.setup(SearchContext(self.spaces, seed, trials, self.baseline, self.run_dir))
        self.start = time.perf_counter()
        self.best: EpisodeRecord | None = None
        self.curve: list[float] = []  # best latency (s) after each trial; inf before the first success
        self.curve_wall: list[float] = []
        self.errors = 0
        self.exhausted = False
        self.bar = _progress(trials, f"{self.task.name}/{self.strategy.name}", progress)

    @property
    def done(self) -> bool:
        return self.exhausted or len(self.curve) >= self.trials

    def step(self, batch: int = 4) -> int:
        """Propose, measure and observe up to ``batch`` candidates; returns how many were measured."""
        task, strategy = self.task, self.strategy
        want = min(batch, self.trials - len(self.curve))
        proposals = strategy.propose(want)[:want] if want > 0 else []
        if not proposals:
            self.exhausted = True  # the strategy has nothing left to propose (a tiny space, exhausted)
            return 0
        t0 = time.perf_counter()
        results = self.measurer.measure_candidates(task, self.spaces, [(c.space, c.decision_list()) for c in proposals],
                                                   remeasure=self.remeasure)
        per_candidate_s = (time.perf_counter() - t0) / len(proposals)
        for cand, result in zip(proposals, results):
            rec = EpisodeRecord(
                task=task.spec, target=str(task.target), space=cand.space, decisions=cand.decision_list(),
                seed=self.seed, reward_space="log_speedup", latency_s=result.latency_s, error=result.error,
                reward=math.log(self.baseline / result.latency_s) if result.ok else None,
                speedup=self.baseline / result.latency_s if result.ok else None, wall_s=per_candidate_s,
            )
            self.errors += not result.ok
            if result.ok and (self.best is None or result.latency_s < self.best.latency_s):
                self.best = rec
            self.curve.append(self.best.latency_s if self.best else math.inf)
            self.curve_wall.append(time.perf_counter() - self.start)
            if self.run_dir is not None:
                append(self.run_dir / "records.jsonl", rec)
            _log_trial(self.writer, len(self.curve), task, rec, self.best, self.errors, self.baseline,
                       time.perf_counter() - self.start)
            self.bar.update(1)
        strategy.observe(proposals, results)
        if self.writer is not None:
            for key, value in strategy.scalars().items():
                self.writer.add_scalar(f"agent/{key}", value, len(self.curve))
        return len(proposals)

    def finish(self) -> TuneResult:
        """Close the strategy and the logs; the result of the search so far."""
        self.bar.close()
        self.strategy.close()
        task, best = self.task, self.best
        out = TuneResult(task.name, self.strategy.name, self.seed, len(self.curve), best, self.errors,
                         time.perf_counter() - self.start, self.curve, self.curve_wall,
                         task.flops / best.latency_s / 1e9 if best else 0.0, str(self.run_dir) if self.run_dir else None)
        if self.writer is not None:
            hparams = {"task": task.name, "agent": self.strategy.name, "seed": self.seed, "trials": self.trials,
                       **{f"agent.{k}": _hparam(v) for k, v in self.strategy.hparams().items()}}
            self.writer.add_hparams(hparams, {"hparam/best_gflops": out.best_gflops}, run_name=".")
            self.writer.close()
        if self.run_dir is not None and best is not None:
            (self.run_dir / "best.json").write_text(json.dumps(best.to_json(), indent=1))
        return out


def tune(
    task: "str | Task",
    agent: "str | SearchStrategy" = "random",
    trials: int = 16,
    seed: int = 0,
    logdir: "str | Path | None" = None,
    batch: int = 4,
    measurer: Measurer | None = None,
    progress: bool = True,
    remeasure: bool = False,
    agent_options: dict[str, Any] | None = None,
) -> TuneResult:
    """Search ``task`` with ``agent`` for ``trials`` measured candidates.

    ``agent_options`` go to the agent's constructor (e.g. ``{"policy": "policy.zip"}`` for ppo).
    ``remeasure=True`` measures every proposal even if the measurer has it cached (comparisons of
    agents' wall time must not let one agent reuse another's measurements)."""
    search = Search(task, agent, trials, seed, logdir, measurer, progress, remeasure, agent_options)
    try:
        while not search.done:
            search.step(batch)
    finally:
        result = search.finish()
    return result


def _hparam(value: Any) -> "int | float | str | bool":
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def command_line() -> str:
    """The command that made a result, as a user would retype it: ``msgym ...`` however the CLI was started."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("msgym", "cli.py"):
        argv[0] = "msgym"
    return " ".join(shlex.quote(arg) for arg in argv)


def _open_run(logdir, task: Task, strategy: SearchStrategy, seed: int, trials: int):
    if logdir is None:
        return None, None
    from torch.utils.tensorboard import SummaryWriter

    safe = task.name.replace("/", "_").replace(":", "_")
    run_dir = Path(logdir) / f"{safe}__{strategy.name}__seed{seed}__{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {"task": task.spec, "target": str(task.target), "agent": strategy.name,
              "agent_options": {k: _hparam(v) for k, v in strategy.hparams().items()}, "seed": seed, "trials": trials}
    (run_dir / "config.json").write_text(json.dumps(config, indent=1))
    (run_dir / "command.txt").write_text(command_line() + "\n")
    return run_dir, SummaryWriter(str(run_dir))


def _log_trial(writer, step: int, task: Task, rec: EpisodeRecord, best, errors: int, baseline: float, wall: float):
    if writer is None:
        return
    writer.add_scalar("measure/errors", errors, step)
    if rec.reward is not None:
        writer.add_scalar("search/reward", rec.reward, step)  # the episode reward: log speedup
    if rec.latency_s:
        writer.add_scalar("search/latency_ms", rec.latency_s * 1e3, step)
        writer.add_scalar("search/gflops", task.flops / rec.latency_s / 1e9, step)
        writer.add_scalar("search/speedup", rec.speedup, step)
    if best is not None:
        writer.add_scalar("search/best_latency_ms", best.latency_s * 1e3, step)
        writer.add_scalar("search/best_gflops", task.flops / best.latency_s / 1e9, step)
        writer.add_scalar("search/best_speedup", baseline / best.latency_s, step)
        writer.add_scalar("search/best_gflops_vs_wall_s", task.flops / best.latency_s / 1e9, int(wall * 1e3))


class _NoBar:
    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="trial")
