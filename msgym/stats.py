"""Statistics for comparing noisy measurements and runs: bootstrap intervals, geometric means.

Measurements on a shared machine spread by several percent, and searches diverge between seeds,
so a figure without an interval cannot say which of two agents is better. Intervals here are
percentile bootstraps with a fixed seed (the same inputs always give the same interval).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["bootstrap_ci", "geomean", "geomean_ci", "separated", "fast_p"]

LEVEL = 0.95
N_BOOT = 10_000


def bootstrap_ci(
    values: Sequence[float], statistic: Callable = np.mean, level: float = LEVEL, n_boot: int = N_BOOT, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``statistic`` over ``values`` (one value: that value twice)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return (math.nan, math.nan)
    if v.size == 1:
        return (float(v[0]), float(v[0]))
    rng = np.random.default_rng(seed)
    stats = statistic(v[rng.integers(0, v.size, size=(n_boot, v.size))], axis=1)
    low, high = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return (float(low), float(high))


def geomean(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    return float(np.exp(np.mean(np.log(v)))) if v.size and (v > 0).all() else 0.0


def geomean_ci(
    per_task: Sequence[Sequence[float]], level: float = LEVEL, n_boot: int = N_BOOT, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """Geometric mean over tasks of each task's mean over seeds, and its interval (the seeds of
    every task resampled together: a stratified bootstrap)."""
    means = [float(np.mean(v)) for v in per_task]
    if not per_task or any(len(v) == 0 for v in per_task):
        return geomean(means), (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    logs = np.zeros(n_boot)
    for v in per_task:
        arr = np.asarray(v, dtype=np.float64)
        boot = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))].mean(axis=1)
        logs += np.log(np.maximum(boot, 1e-300))
    boots = np.exp(logs / len(per_task))
    low, high = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return geomean(means), (float(low), float(high))


def separated(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two intervals do not overlap (the difference is larger than the noise)."""
    return a[0] > b[1] or b[0] > a[1]


def fast_p(speedups: Sequence["float | None"], p: float) -> float:
    """KernelBench's fast_p: the fraction of kernels that are correct and at least ``p`` times as
    fast as the reference. ``speedups``: reference latency / kernel latency per task (or run), None
    where there is no correct kernel (it counts, as a failure). NaN for no tasks."""
    if not speedups:
        return math.nan
    return sum(1 for s in speedups if s is not None and s >= p) / len(speedups)
