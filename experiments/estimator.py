"""Which estimator, and how many repeats: chosen from raw repeats of real kernels.

Kernels: the fastest of 16 random GEMM 512 candidates (as ``bench_measure.py`` picks it), a conv2d
candidate and the default GEMM 64 schedule. Each is measured ``--calls`` times, in interleaved
rounds (kernel A, B, C, A, B, C, ...: the machine's minute hits all alike), every call recording
``--repeats`` raw repeats from ``time_evaluator`` (number 1, min_repeat_ms 2: a repeat of a kernel
under 2 ms loops it until it lasts 2 ms). Offline, for each estimator (protocol.ESTIMATORS) and
each prefix length k (a protocol of k repeats), the CV across calls of the estimate and the timing cost per
call are reported. Also times the old slow-kernel path (3 repeats timed from Python) for comparison.

    python experiments/estimator.py --calls 10 --json experiments/results/estimator.json
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
from msgym.measure.protocol import ESTIMATORS, estimate, more_repeats
from msgym.space import design_spaces
from msgym.tasks import get_task

PREFIXES = (3, 5, 10, 20, 40)
# Adaptive protocols replayed over the raw repeats: (estimator, contender_ratio, max_repeat, target_width)
ADAPTIVE = [
    (e, c, m, w) for e in ("min", "median") for c in (1.2, 1.5) for m in (10, 15, 20, 40) for w in (0.005, 0.01, 0.02)
]


def kernels(measurer: Measurer) -> dict:
    """name -> (task, program): the kernels the estimators are judged on."""
    out = {
        "gmm-512 (best of 16 random)": fastest_random("gmm-512", 16, measurer),
        "c2d (best of 8 random)": fastest_random("c2d", 8, measurer),
    }
    small = get_task("gmm-64")
    spaces = design_spaces(small)
    out["gmm-64 (default schedule)"] = (small, spaces.program(0, spaces.default_decisions(0)).mod)
    return out


def _spread(estimates: list[float]) -> dict:
    return {
        "cv": statistics.pstdev(estimates) / statistics.fmean(estimates),
        "range": max(estimates) / min(estimates) - 1,
        "mean_ms": statistics.fmean(estimates) * 1e3,
    }


def analyse(calls: list[list[float]]) -> dict:
    """CV across calls of each estimator over the first k repeats of each call."""
    rows = {}
    for name in ESTIMATORS:
        for k in PREFIXES:
            if k <= min(len(c) for c in calls):
                rows[f"{name}@{k}"] = _spread([estimate(c[:k], name) for c in calls])
    return rows


def replay_adaptive(calls: list[list[float]], timing: TimingConfig) -> dict:
    """The adaptive protocol (``protocol.more_repeats``) replayed over the raw repeats, call after
    call (the task's best so far: the earlier calls' estimates): CV across calls, repeats used."""
    estimates, used = [], []
    for raw in calls:
        repeats: list[float] = []
        while (n := more_repeats(repeats, timing, min(estimates, default=None))) > 0 and len(repeats) < len(raw):
            repeats += raw[len(repeats) : len(repeats) + n]
        estimates.append(estimate(repeats, timing.estimator))
        used.append(len(repeats))
    return {**_spread(estimates), "repeats_mean": statistics.fmean(used)}


def report(out: dict) -> None:
    """Print (and add to ``out``) the estimators' and the adaptive protocols' spread per kernel."""
    for name, kernel in out["kernels"].items():
        calls = kernel["raw_repeats"]
        kernel["estimators"] = analyse(calls)
        kernel["adaptive"] = {}
        for estimator, ratio, max_repeat, width in ADAPTIVE:
            timing = TimingConfig(
                estimator=estimator,
                contender_ratio=ratio,
                max_repeat=max_repeat,
                target_width=width,
                max_timing_s=1e9,
            )
            label = f"{estimator} adaptive contender {ratio} max {max_repeat} width {width}"
            kernel["adaptive"][label] = replay_adaptive(calls, timing)
        print(f"\n{name}: {kernel['latency_ms']:.3f} ms; python path {kernel['python_path_median_ms']:.3f} ms")
        for key, row in {**kernel["estimators"], **kernel["adaptive"]}.items():
            extra = f"  repeats {row['repeats_mean']:.1f}" if "repeats_mean" in row else ""
            print(f"  {key:<36} cv {row['cv']:.4f}  range {row['range']:.4f}  mean {row['mean_ms']:.3f} ms{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--json", default=None)
    parser.add_argument("--analyse", metavar="JSON", help="analyse the raw repeats of an earlier run (no measuring)")
    args = parser.parse_args()
    if args.analyse:
        with open(args.analyse) as f:
            out = json.load(f)
        report(out)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=1)
        return
    with Measurer() as measurer:
        ks = kernels(measurer)
        raw: dict[str, list[list[float]]] = {name: [] for name in ks}
        python_path: dict[str, list[float]] = {name: [] for name in ks}
        cost: dict[str, list[float]] = {name: [] for name in ks}
        for _ in range(args.calls):
            for name, (task, mod) in ks.items():
                with measurer.timing_as(repeat=args.repeats, slow_kernel_s=1e9, adaptive=False):
                    result = measurer.measure(task, mod, use_cache=False)
                raw[name].append(result.repeats)
                cost[name].append(result.run_s)
                # every kernel through the Python path (3 repeats, the median: as before issue 13)
                with measurer.timing_as(slow_kernel_s=0.0, slow_repeat=3, adaptive=False, estimator="median"):
                    python_path[name].append(measurer.measure(task, mod, use_cache=False).latency_s)
    out = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"mcpu={host_cpu()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "kernels": {},
    }
    for name in ks:
        out["kernels"][name] = {
            "latency_ms": statistics.median(statistics.median(c) for c in raw[name]) * 1e3,
            "python_path_median_ms": statistics.median(python_path[name]) * 1e3,
            "python_path_cv": statistics.pstdev(python_path[name]) / statistics.fmean(python_path[name]),
            "run_s_median": statistics.median(cost[name]),
            "raw_repeats": raw[name],
        }
    report(out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
