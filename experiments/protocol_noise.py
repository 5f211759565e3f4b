"""How much separate measurements of one kernel spread, under several timing protocols.

Each protocol measures the same program ``--calls`` times (separate calls, as a search would), and
the spread of those medians is reported: CV, max/min - 1, and the cost of one measurement.

    python experiments/protocol_noise.py --task gmm-64 --calls 10 --json experiments/results/protocol_noise.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from msgym._tvm import host_cpu
from msgym.measure import Measurer, TimingConfig
from msgym.space import design_spaces
from msgym.tasks import get_task

PROTOCOLS = {
    "default (repeat 5, min_repeat_ms 2)": TimingConfig(),
    "repeat 10, min_repeat_ms 2": TimingConfig(repeat=10, slow_kernel_s=1e9),
    "repeat 10, min_repeat_ms 20": TimingConfig(repeat=10, min_repeat_ms=20, slow_kernel_s=1e9),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="gmm-64")
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    task = get_task(args.task)
    spaces = design_spaces(task)
    program = spaces.program(0, spaces.default_decisions(0)).mod
    rows = []
    for name, timing in PROTOCOLS.items():
        with Measurer(timing) as m:
            m.measure(task, program)  # the workers are up, the reference known
            t0 = time.perf_counter()
            medians = [m.measure(task, program, use_cache=False).latency_s for _ in range(args.calls)]
            cost = (time.perf_counter() - t0) / args.calls
        row = {
            "protocol": name,
            "latency_us": statistics.median(medians) * 1e6,
            "cv": statistics.pstdev(medians) / statistics.fmean(medians),
            "range": max(medians) / min(medians) - 1,
            "s_per_measurement": cost,
            "medians_us": [x * 1e6 for x in medians],
        }
        rows.append(row)
        print(
            f"{name:<36} {row['latency_us']:8.1f} us  cv {row['cv']:.3f}  range {row['range']:.3f}  {cost:.2f} s each",
            flush=True,
        )
    if args.json:
        out = {
            "command": " ".join(["python", *sys.argv]),
            "machine": f"mcpu={host_cpu()}",
            "task": args.task,
            "results": rows,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
