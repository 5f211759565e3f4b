"""The timing protocol: what latency a kernel's repeats give, and how many repeats it gets.

**Estimator: the minimum of the repeats** (``TimingConfig.estimator``; median, 10th percentile,
20%-trimmed mean and mean are here for comparison). Chosen from data: ``experiments/estimator.py``
records 40 raw repeats per call, 10 calls per kernel interleaved, and compares every estimator at
every repeat count (BENCHMARKS.md, "Measurement trust"). On this project's shared 2-core VMs the noise
is one-sided: the machine drops into slower states for 0.1 s to seconds (another tenant, the
hypervisor), and nothing makes a kernel run faster than it can. The fastest repeats are those the
noise missed, so the minimum spreads least between calls (GEMM 512, 10 repeats: CV 3.7% against
7.1% for the median and 7.0% for the trimmed mean); median and means carry the slow states' repeats.

**Adaptive repeats** (``more_repeats``): every kernel gets ``repeat`` repeats. A kernel whose estimate
is more than ``contender_ratio`` times the task's best so far is hopeless and stops there (its
latency needs no precision: nobody will keep it). A contender (near the best, or the first of its
task) gets ``chunk`` more repeats at a time while its 95% interval is wider than ``target_width``
of the estimate, up to ``max_repeat`` repeats and ``max_timing_s`` seconds of timed runs. For the
minimum the interval is the bootstrap's: it is narrow once the few fastest repeats agree, i.e. once
the fast state has been seen more than once.

**Spacing** (``TimingConfig.min_chunks``, ``gap_ms``; off by default): a contender's repeats in at
least ``min_chunks`` chunks with pauses between, so that no one slow state holds them all. Measured
on the Zen 5 VM (BENCHMARKS.md, "spacing a contender's repeats does not help"): 3 chunks 100 ms apart
spread 5.0-8.9% over 10 calls, 250 ms apart 4.7-25.2%, where the default (back to back) spread
2.7-4.6% in the same three interleaved runs, at 1.15-1.35x the cost. The slow states are not short
and independent; a pause only gives the idle vCPUs another draw.

**Placements** (``TimingConfig.placements``, ``reuse_buffers``; the run worker, ``worker.py``): the
repeats are shared out among 4 sets of argument buffers that the worker keeps for every kernel of
the task, since where the arrays lie moved a GEMM 512 kernel's time by a CV of 3.0% between sets
(1.0% within one). With them the default spread 1.0-2.1% over 10 calls in four of six runs (the
others: one call in a slow state of the VM, 21-22%), where a fresh set at every call spread 4.0-8.8%.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["ESTIMATORS", "estimate", "interval", "more_repeats"]


def _trimmed_mean(x: np.ndarray, axis: int = -1, cut: float = 0.2) -> np.ndarray:
    x = np.sort(x, axis=axis)
    n = x.shape[axis]
    k = int(cut * n)
    return np.take(x, range(k, n - k), axis=axis).mean(axis=axis)


def _p10(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.quantile(x, 0.1, axis=axis)


# name -> statistic(array, axis=...) (vectorized: the bootstrap applies it to many resamples at once)
ESTIMATORS: dict[str, Callable[..., Any]] = {
    "min": np.min,
    "p10": _p10,
    "median": np.median,
    "trimmed_mean": _trimmed_mean,
    "mean": np.mean,
}
N_BOOT = 2000


def _statistic(name: str) -> Callable[..., Any]:
    if name not in ESTIMATORS:
        raise ValueError(f"unknown estimator {name!r}; choose from {', '.join(ESTIMATORS)}")
    return ESTIMATORS[name]


def estimate(repeats: Sequence[float], name: str = "min") -> float:
    """The latency the repeats give under estimator ``name``."""
    return float(_statistic(name)(np.asarray(repeats, dtype=np.float64), axis=-1))


def interval(repeats: Sequence[float], name: str = "min") -> tuple[float, float]:
    """95% percentile-bootstrap interval of the estimate (seeded: the same repeats, the same interval)."""
    from msgym.stats import bootstrap_ci

    return bootstrap_ci(repeats, statistic=_statistic(name), n_boot=N_BOOT)


def more_repeats(repeats: Sequence[float], timing: Any, best_s: "float | None", chunks: int = 1) -> int:
    """How many more repeats a kernel should get (0: its latency is known well enough).

    ``timing`` is a ``TimingConfig``; ``best_s`` the task's best latency so far (None: none yet, so
    this kernel is a contender); ``chunks`` how many chunks the repeats so far came in (a contender
    gets at least ``timing.min_chunks``, whatever its interval: repeats that all fell in one slow
    state agree with each other too). Each repeat lasts ``max(latency, min_repeat_ms)``, which bounds
    the time spent."""
    n = len(repeats)
    if n < timing.repeat:
        return timing.repeat - n
    if n >= timing.max_repeat or not timing.adaptive:
        return 0
    est = estimate(repeats, timing.estimator)
    if best_s is not None and est > timing.contender_ratio * best_s:
        return 0  # hopeless: far from the best, it needs no precision
    low, high = interval(repeats, timing.estimator)
    if high - low <= timing.target_width * est and chunks >= timing.min_chunks:
        return 0
    per_repeat = max(est, timing.min_repeat_ms / 1e3)
    room = int((timing.max_timing_s - n * per_repeat) / per_repeat)
    return max(0, min(timing.chunk, timing.max_repeat - n, room))
