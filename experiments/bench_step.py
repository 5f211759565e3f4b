"""Benchmark: wall time of an environment step that triggers no measurement.

Random masked actions drive whole episodes of each task; the last step of an episode (which
would build and time the kernel) is excluded, and so no kernel is measured at all: the env gets
a measurer that answers at once with an error. Reports median / mean / p90 per task and
observation type, and how many steps paid for TIR feature extraction or compute-location probes.

    python experiments/bench_step.py --json experiments/results/step_speed.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import numpy as np

from msgym import features, space
from msgym.envs.schedule_env import ScheduleEnv
from msgym.measure import MeasureResult

SPENT = {"features": [0, 0.0], "probes": [0, 0.0]}  # calls, seconds


def _timed(name, fn):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name][0] += 1
            SPENT[name][1] += time.perf_counter() - t0

    return wrapper


# Where the time goes: TIR feature extraction and compute-location probing, counted separately.
features.StoreFeatures.aggregate = _timed("features", features.StoreFeatures.aggregate)
space.probe_compute_locations = _timed("probes", space.probe_compute_locations)


class NotMeasured:
    """Answers every request at once: this benchmark times steps, not kernels."""

    def measure_programs(self, task, requests, use_cache=True):
        return [MeasureResult(error="not measured in this benchmark") for _ in requests]


def bench(task: str, observation: str, episodes: int, seed: int) -> dict:
    env = ScheduleEnv(task=task, observation=observation, measurer=NotMeasured())
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)  # the design spaces are generated once per task: not part of a step
    env.spaces.location_cache.clear()  # each observation type pays for its own location probes
    for counter in SPENT.values():
        counter[:] = [0, 0.0]
    times, resets = [], []
    for ep in range(episodes):
        t0 = time.perf_counter()
        env.reset(seed=seed + ep)
        resets.append(time.perf_counter() - t0)
        while True:
            action = int(rng.choice(np.flatnonzero(env.action_masks())))
            t0 = time.perf_counter()
            _, _, terminated, _, _ = env.step(action)
            dt = time.perf_counter() - t0
            if terminated:
                break
            times.append(dt)
    env.close()
    ms = sorted(t * 1e3 for t in times)
    return {
        "task": task,
        "observation": observation,
        "episodes": episodes,
        "steps": len(ms),
        "median_ms": statistics.median(ms),
        "mean_ms": statistics.fmean(ms),
        "p90_ms": ms[int(0.9 * (len(ms) - 1))],
        "reset_median_ms": statistics.median(resets) * 1e3,
        "feature_extractions": SPENT["features"][0],
        "feature_ms_per_step": SPENT["features"][1] * 1e3 / len(ms),
        "probe_calls": SPENT["probes"][0],
        "probe_ms_per_step": SPENT["probes"][1] * 1e3 / len(ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="gmm-512,c2d,sfm")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rows = []
    for task in args.tasks.split(","):
        for observation in ("features", "context"):
            row = bench(task, observation, args.episodes, args.seed)
            rows.append(row)
            print(
                f"{task:<10} {observation:<9} steps {row['steps']:>5}  median {row['median_ms']:.3f} ms  "
                f"mean {row['mean_ms']:.3f} ms  p90 {row['p90_ms']:.3f} ms  reset {row['reset_median_ms']:.2f} ms  "
                f"features {row['feature_extractions']} ({row['feature_ms_per_step']:.3f} ms/step)  "
                f"probes {row['probe_calls']} ({row['probe_ms_per_step']:.3f} ms/step)",
                flush=True,
            )
    if args.json:
        out = {
            "command": " ".join(["python"] + sys.argv),
            "machine": platform.processor() or platform.machine(),
            "results": rows,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
