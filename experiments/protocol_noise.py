"""How much separate measurements of one kernel spread, under several timing protocols, interleaved
(A, B, C, A, ...: the machine's minute hits all alike).

Protocols (``--protocols``, by key): ``before`` (the protocol before issue 13, median of 5 repeats
on one fresh set of argument buffers), ``default`` (msgym's: minimum, adaptive repeats, shared out
among the run worker's 4 sets of argument buffers, the same at every call: ``TimingConfig.placements``,
``reuse_buffers``), ``one-set`` (the default on one set, the same at every call), ``fresh-buffers``
(the default on one set allocated afresh at every call: every measurement until the placements),
``spaced-100`` and ``spaced-250`` (a contender's repeats in 3 chunks, 100 or 250 ms apart:
``TimingConfig.min_chunks``, ``gap_ms``), ``default-again`` (the default through a second measurer:
the place in the interleaving alone).

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

PROTOCOLS = {  # key: (name in the results, timing)
    "before": (
        "before issue 13 (median of 5 repeats)",
        TimingConfig(estimator="median", adaptive=False, placements=1, reuse_buffers=False),
    ),
    "default": ("default (minimum, adaptive repeats, 4 placements)", TimingConfig()),
    # the same protocol through a second measurer: what the place in the interleaving does alone
    "default-again": ("default again, a second measurer", TimingConfig()),
    "one-set": ("default on one set of buffers, the same at every call", TimingConfig(placements=1)),
    "fresh-buffers": (
        "default on one fresh set of buffers at every call",
        TimingConfig(placements=1, reuse_buffers=False),
    ),
    # a contender's repeats in at least 3 chunks (5 + 5 + 5), spaced (TimingConfig.min_chunks, gap_ms)
    "spaced-100": ("spaced: 3 chunks 100 ms apart", TimingConfig(min_chunks=3, gap_ms=100)),
    "spaced-250": ("spaced: 3 chunks 250 ms apart", TimingConfig(min_chunks=3, gap_ms=250)),
}


def parse_protocols(keys: str) -> dict[str, TimingConfig]:
    """{name: timing} of the protocols ``keys`` names (comma-separated keys of ``PROTOCOLS``)."""
    wanted = [k.strip() for k in keys.split(",") if k.strip()]
    unknown = [k for k in wanted if k not in PROTOCOLS]
    if unknown or len(wanted) < 2:
        raise SystemExit(f"--protocols: give two or more of {', '.join(PROTOCOLS)} (got {keys!r})")
    return dict(PROTOCOLS[k] for k in wanted)


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
    parser.add_argument(
        "--protocols",
        default="before,default,one-set,fresh-buffers",
        help=f"comma-separated, the first the one costs are compared with: {', '.join(PROTOCOLS)}",
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    chosen = parse_protocols(args.protocols)
    task, program = pick_program(args.task, args.default_schedule)
    measurers = {name: Measurer(timing) for name, timing in chosen.items()}
    latencies: dict[str, list[float]] = {name: [] for name in chosen}
    costs: dict[str, list[float]] = {name: [] for name in chosen}
    repeats: dict[str, list[int]] = {name: [] for name in chosen}
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
    for name in chosen:
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
    cost_ratio = rows[1]["cost_vs_before"]  # the second protocol's cost over the first's
    for row in rows[1:]:
        print(f"cost ratio {row['protocol']} / {rows[0]['protocol']}: {row['cost_vs_before']:.2f}")
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
