"""How much separate measurements of one kernel spread, under the timing protocol before issue 13,
the current default and two spaced variants of it (a contender's repeats in 3 chunks, 100 or 250 ms
apart: ``TimingConfig.min_chunks``, ``gap_ms``), interleaved (A, B, C, D, A, ...: the machine's
minute hits all alike).

Each protocol measures the same program ``--calls`` times (separate calls, as a search would: each
builds the program again, checks its output and times it), and the spread of the results is reported:
CV, max/min - 1, and the wall seconds of one measurement (build included: a candidate's cost).
The kernel: the fastest of 16 random candidates of ``--task`` (as ``bench_measure.py`` picks it), or
the default schedule with ``--default-schedule``.

    python experiments/protocol_noise.py --task gmm-512 --calls 10 --json experiments/results/protocol_noise_gmm512.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from common import fastest_random

from msgym._tvm import host_cpu
from msgym.measure import Measurer, TimingConfig
from msgym.space import design_spaces
from msgym.tasks import get_task

PROTOCOLS = {
    "before issue 13 (median of 5 repeats)": TimingConfig(estimator="median", adaptive=False),
    "default (minimum, adaptive repeats)": TimingConfig(),
    # a contender's repeats in at least 3 chunks (5 + 5 + 5), spaced (TimingConfig.min_chunks, gap_ms)
    "spaced: 3 chunks 100 ms apart": TimingConfig(min_chunks=3, gap_ms=100),
    "spaced: 3 chunks 250 ms apart": TimingConfig(min_chunks=3, gap_ms=250),
}


def pick_program(task_name: str, default_schedule: bool):
    task = get_task(task_name)
    spaces = design_spaces(task)
    if default_schedule:
        return task, spaces.program(0, spaces.default_decisions(0)).mod
    with Measurer() as m:
        return fastest_random(task_name, 16, m)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="gmm-512")
    parser.add_argument("--default-schedule", action="store_true")
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    task, program = pick_program(args.task, args.default_schedule)
    measurers = {name: Measurer(timing) for name, timing in PROTOCOLS.items()}
    latencies: dict[str, list[float]] = {name: [] for name in PROTOCOLS}
    costs: dict[str, list[float]] = {name: [] for name in PROTOCOLS}
    repeats: dict[str, list[int]] = {name: [] for name in PROTOCOLS}
    try:
        for m in measurers.values():
            m.measure(task, program)  # the workers are up, the reference known
        for _ in range(args.calls):
            for name, m in measurers.items():
                t0 = time.perf_counter()
                result = m.measure(task, program, use_cache=False)
                costs[name].append(time.perf_counter() - t0)
                latencies[name].append(result.latency_s)
                repeats[name].append(len(result.repeats))
    finally:
        for m in measurers.values():
            m.close()
    rows = []
    for name in PROTOCOLS:
        xs = latencies[name]
        row = {
            "protocol": name,
            "latency_ms": statistics.median(xs) * 1e3,
            "cv": statistics.pstdev(xs) / statistics.fmean(xs),
            "range": max(xs) / min(xs) - 1,
            "s_per_measurement": statistics.fmean(costs[name]),
            "repeats_mean": statistics.fmean(repeats[name]),
            "latencies_ms": [x * 1e3 for x in xs],
        }
        rows.append(row)
        print(
            f"{name:<40} {row['latency_ms']:8.3f} ms  cv {row['cv']:.4f}  range {row['range']:.3f}  "
            f"{row['s_per_measurement']:.3f} s each  {row['repeats_mean']:.1f} repeats",
            flush=True,
        )
    for row in rows:
        row["cost_vs_before"] = row["s_per_measurement"] / rows[0]["s_per_measurement"]
    cost_ratio = rows[1]["cost_vs_before"]
    print(f"cost ratio default / before: {cost_ratio:.2f}")
    for row in rows[2:]:
        print(f"cost ratio {row['protocol']} / before: {row['cost_vs_before']:.2f}")
    if args.json:
        out = {
            "command": " ".join(["python", *sys.argv]),
            "machine": f"mcpu={host_cpu()}",
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "task": args.task,
            "results": rows,
            "cost_ratio": cost_ratio,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
