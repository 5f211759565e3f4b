"""Would a paired reference cancel the VM's slow states? Two GEMM 512 kernels timed call by call.

The fastest (A) and second-fastest (B) of 16 random GEMM 512 candidates run alternately for
``--seconds``; the calls are bucketed into windows (0.1, 0.25, 0.5 s: a measurement's length) and,
per window, A's minimum and the median of A/B over the window's pairs are taken. If the machine's
slow states slow both kernels alike, the ratio spreads far less across windows than A alone: the
case for reporting latencies relative to a reference timed alongside (not done: see BENCHMARKS.md).

    python experiments/paired_noise.py --seconds 20 --json experiments/results/paired_noise.json
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import numpy as np
from common import emit

from msgym._tvm import host_cores, host_cpu, tvm, use_threads
from msgym.space import design_spaces
from msgym.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    task = get_task("gmm-512")
    use_threads(host_cores(task.target))  # kernels on the target's cores, as the measurer runs them
    spaces = design_spaces(task)
    inputs = [tvm.runtime.tensor(a) for a in task.random_inputs(0)]
    timed = []
    for cand in spaces.sample_distinct(random.Random(0), 16):
        lib = tvm.tirx.build(spaces.program(*cand).mod, target=task.target)
        timed.append((min(lib.time_evaluator("main", tvm.cpu(), number=1, repeat=3)(*inputs).results), lib))
    timed.sort(key=lambda x: x[0])
    a, b = timed[0][1]["main"], timed[1][1]["main"]
    other = [tvm.runtime.tensor(x) for x in task.random_inputs(0)]
    rows = []
    end = time.time() + args.seconds
    while time.time() < end:
        t0 = time.perf_counter()
        a(*inputs)
        t1 = time.perf_counter()
        b(*other)
        rows.append((t0, t1 - t0, time.perf_counter() - t1))
    r = np.array(rows)
    start = r[:, 0] - r[0, 0]
    out = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"mcpu={host_cpu()}",
        "a_ms": timed[0][0] * 1e3,
        "b_ms": timed[1][0] * 1e3,
        "pairs": len(rows),
        "windows": {},
    }
    for window in (0.1, 0.25, 0.5):
        bins = np.floor(start / window).astype(int)
        a_min, ratio = [], []
        for k in range(bins.max()):
            m = bins == k
            if m.sum() >= 2:
                a_min.append(r[m, 1].min())
                ratio.append(np.median(r[m, 1] / r[m, 2]))
        cv = lambda v: float(np.std(v) / np.mean(v))  # noqa: E731
        out["windows"][str(window)] = {"a_min_cv": cv(a_min), "ratio_cv": cv(ratio), "windows": len(a_min)}
    emit(out, args.json)


if __name__ == "__main__":
    main()
