"""TVM kernels on one thread against all the target's cores, PyTorch eager beside them (the fix of
``_tvm.use_threads``).

TVM sizes its CPU thread pool at half the hardware threads on x86 unless told: one thread on this
project's 2-vCPU VM, whose targets say 2 cores and whose PyTorch references ran on 2. Here the same
built kernels (each task's default-space candidates: the fastest of ``--candidates`` seeded random
ones, as measured through msgym's measurer, and MetaSchedule's default) are timed in one process on
1 thread and on the target's cores, interleaved round by round with PyTorch eager on the same
counts, so one minute's state of the machine hits all alike::

    python experiments/threads.py --tasks gmm-512,c2d --json experiments/results/threads.json
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import emit  # noqa: E402

from msgym._tvm import host_cores, host_cpu, tvm, use_threads  # noqa: E402
from msgym.envs.outcome import measure_candidates  # noqa: E402
from msgym.measure import Measurer  # noqa: E402
from msgym.measure.protocol import estimate  # noqa: E402
from msgym.search import command_line  # noqa: E402
from msgym.space import design_spaces  # noqa: E402
from msgym.tasks import get_task  # noqa: E402
from msgym.tasks.torch_reference import torch_equivalent  # noqa: E402


def kernels(name: str, n: int, measurer: Measurer) -> tuple:
    """The task, and its default-space candidates worth comparing: the fastest of ``n`` random ones
    and MetaSchedule's default decisions, built here."""
    task = get_task(name)
    spaces = design_spaces(task)
    cands = spaces.sample_distinct(random.Random(0), n)
    results = measure_candidates(measurer, spaces, cands)
    ranked = sorted((r.latency_s, c) for c, r in zip(cands, results) if r.ok)
    chosen = {"fastest_random": ranked[0][1], "default_decisions": (0, spaces.default_decisions(0))}
    built = {k: tvm.tirx.build(spaces.program(*c).mod, target=task.target) for k, c in chosen.items()}
    return task, built


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="gmm-512,c2d")
    p.add_argument("--candidates", type=int, default=16)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    start = time.perf_counter()
    out = {"command": command_line(), "machine": f"mcpu={host_cpu()}", "tasks": {}}
    with Measurer(store=None) as measurer:
        for name in args.tasks.split(","):
            task, built = kernels(name, args.candidates, measurer)
            cores = use_threads(host_cores(task.target))  # the pool made at its full size, narrowed below
            inputs = [tvm.runtime.tensor(a) for a in task.random_inputs(0)]
            ref = torch_equivalent(task)
            reps: dict[str, list[float]] = {}
            for _ in range(args.rounds):
                for threads in (1, cores):
                    use_threads(threads)
                    for label, lib in built.items():
                        ev = lib.time_evaluator("main", tvm.cpu(), number=1, repeat=10, min_repeat_ms=2)
                        reps.setdefault(f"{label}@{threads}", []).extend(ev(*inputs).results)
                    if ref is not None:
                        reps.setdefault(f"pytorch_eager@{threads}", []).extend(ref.time(threads, repeat=10))
            use_threads(cores)
            lat = {k: estimate(v, "min") for k, v in reps.items()}
            out["tasks"][name] = {
                "cores": cores,
                "latency_s": lat,
                "gflops": {k: task.flops / v / 1e9 for k, v in lat.items()},
                "speedup_of_cores_over_one": {
                    k.split("@")[0]: lat[k] / lat[f"{k.split('@')[0]}@{cores}"] for k in lat if k.endswith("@1")
                },
            }
    out["wall_s"] = time.perf_counter() - start
    emit(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
