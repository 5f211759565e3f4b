"""The extended design space against the default one, side by side in one run (issue 15).

The same agent on the same tasks at equal trials, the two spaces' runs alternating (default seed 0,
extended seed 0, default seed 1, ...), then every run's best few re-timed in interleaved passes
together with PyTorch eager's kernel for the task (same threads, same run lock)::

    python experiments/bench_extended.py --tasks gmm-512,c2d --trials 64 --seeds 2 \
        --json experiments/results/extended_space.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import write_json  # noqa: E402

from msgym._tvm import host_cpu  # noqa: E402
from msgym.commands.bench import _run_summary  # noqa: E402
from msgym.commands.references import pytorch_timers  # noqa: E402
from msgym.measure import Measurer  # noqa: E402
from msgym.search import command_line, tune  # noqa: E402
from msgym.search.verify import verify_runs  # noqa: E402
from msgym.tasks import get_task  # noqa: E402

SPACES = ("default", "extended")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="gmm-512,c2d")
    p.add_argument("--agent", default="evolutionary")
    p.add_argument("--trials", type=int, default=64)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    p.add_argument("--verify-rounds", type=int, default=3)
    p.add_argument("--logdir", default="runs/bench_extended")
    p.add_argument("--json", required=True)
    args = p.parse_args()
    start = time.perf_counter()
    runs = []
    with Measurer(store=str(Path(args.logdir) / "records.jsonl")) as measurer:
        for name in args.tasks.split(","):
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                for space in SPACES:
                    task = get_task(name, space=space)
                    result = tune(
                        task, args.agent, trials=args.trials, seed=seed, logdir=args.logdir,
                        progress=False, remeasure=True, measurer=measurer,
                    )  # fmt: skip
                    runs.append(_run_summary(task, args.agent, seed, result))
                    print(f"{name} {space} seed {seed}: {result.best_gflops:.1f} GFLOPS in-loop", flush=True)
        pytorch = verify_runs(runs, measurer, args.verify_rounds, extra=pytorch_timers(measurer))
    out = {
        "command": command_line(),
        "machine": f"mcpu={host_cpu()}",
        "agent": args.agent,
        "trials": args.trials,
        "seeds": args.seeds,
        "runs": runs,
        "pytorch_eager": pytorch,
        "summary": summary(runs, pytorch),
        "wall_s": time.perf_counter() - start,
    }
    write_json(out, args.json)
    for task, cell in out["summary"].items():
        print(task, json.dumps(cell))
    return 0


def summary(runs: list[dict], pytorch: dict) -> dict:
    """Per task: each space's median verified GFLOPS over seeds, extended / default, and each
    against PyTorch eager's GFLOPS (timed in the same passes)."""
    out = {}
    for task in dict.fromkeys(r["task"] for r in runs):
        flops = next(r["flops"] for r in runs if r["task"] == task)
        cell = {}
        for space in SPACES:
            mine = [r["verified_gflops"] for r in runs if r["task"] == task and r["space_kind"] == space]
            cell[space] = {"verified_gflops": statistics.median(mine), "seeds": mine}
        cell["extended_over_default"] = cell["extended"]["verified_gflops"] / cell["default"]["verified_gflops"]
        eager = pytorch.get(task, {}).get("pytorch_eager", {}).get("latency_s")
        if eager:
            cell["pytorch_eager_gflops"] = flops / eager / 1e9
            for space in SPACES:
                cell[space]["over_pytorch"] = cell[space]["verified_gflops"] / cell["pytorch_eager_gflops"]
        out[task] = cell
    return out


if __name__ == "__main__":
    sys.exit(main())
