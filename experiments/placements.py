"""Where a kernel's arrays lie in memory, and how much that moves its time.

One kernel (the fastest of 16 seeded random candidates of ``--task``, as ``protocol_noise.py``
picks it), built once and loaded once in this process, timed by ``time_evaluator`` (15 repeats,
``min_repeat_ms`` 2, the minimum kept) on:

* ``--sets`` sets of argument buffers allocated one after another (other allocations of random
  sizes between them, as a long-lived worker's heap has), each timed ``--rounds`` times, the sets
  interleaved: how far the sets' mean latencies spread (between placements) against the repeats
  of one set (within a placement);
* the same set ``--calls`` times against a fresh set at every call, interleaved call by call.

What it decided: ``TimingConfig.placements`` and ``reuse_buffers`` (``msgym/measure/worker.py``).

    python experiments/placements.py --task gmm-512 --json experiments/results/placements_znver5.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from common import emit, fastest_random

from msgym._tvm import build_config, host_cpu, use_threads
from msgym.measure import Measurer


def cv(xs: list[float]) -> float:
    return statistics.pstdev(xs) / statistics.fmean(xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="gmm-512")
    parser.add_argument("--sets", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import tvm
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo

    from msgym._tvm import host_cores

    with Measurer() as m:
        task, program = fastest_random(args.task, 16, m)
    use_threads(host_cores(task.target))  # the run worker's threads
    with tvm.transform.PassContext(config=build_config(task.target)):
        lib = tvm.tirx.build(program, target=task.target)
    dev = tvm.cpu()
    rng = np.random.default_rng(args.seed)
    host = [rng.random([int(d) for d in a.shape]).astype(str(a.dtype)) for a in ArgInfo.from_prim_func(program["main"])]
    timer = lib.time_evaluator("main", dev, number=1, repeat=15, min_repeat_ms=2)

    def timed(arrays: list) -> float:
        return min(timer(*arrays).results)

    held, sets = [], []
    for _ in range(args.sets):
        sets.append([tvm.runtime.tensor(a, dev) for a in host])
        held.append(np.ones(int(rng.integers(1_000, 300_000))))  # the heap between two sets
    table = [[timed(s) for s in sets] for _ in range(args.rounds)]
    per_set = [[row[k] for row in table] for k in range(args.sets)]
    means = [statistics.fmean(x) for x in per_set]

    same, fresh, kept = [], [], []
    for _ in range(args.calls):
        same.append(timed(sets[0]))
        arrays = [tvm.runtime.tensor(a, dev) for a in host]
        kept = (kept + [arrays])[-20:]  # alive a while, as a worker's recent allocations are
        fresh.append(timed(arrays))

    out = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"mcpu={host_cpu()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "task": args.task,
        "set_mean_ms": [x * 1e3 for x in means],
        "between_sets_cv": cv(means),
        "within_set_cv": statistics.fmean(cv(x) for x in per_set),
        "same_set_cv": cv(same),
        "fresh_set_cv": cv(fresh),
        "same_set_ms": statistics.median(same) * 1e3,
        "fresh_set_ms": statistics.median(fresh) * 1e3,
    }
    emit(out, args.json)


if __name__ == "__main__":
    main()
