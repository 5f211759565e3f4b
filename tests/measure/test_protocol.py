"""The timing protocol on fixed repeats: estimators, intervals, and how many repeats are asked for."""

import pytest

from msgym.measure import TimingConfig
from msgym.measure.protocol import ESTIMATORS, estimate, interval, more_repeats

REPEATS = [5.0, 5.2, 7.0, 5.1, 9.0, 5.05, 6.0, 5.3, 5.0, 8.0]


def test_estimators_on_known_values():
    assert estimate(REPEATS, "min") == 5.0
    assert estimate(REPEATS, "median") == pytest.approx(5.25)
    assert estimate(REPEATS, "mean") == pytest.approx(6.065)
    # 20% trimmed: the two smallest and two largest of ten dropped
    assert estimate(REPEATS, "trimmed_mean") == pytest.approx((5.05 + 5.1 + 5.2 + 5.3 + 6.0 + 7.0) / 6)
    assert set(ESTIMATORS) >= {"min", "median", "trimmed_mean", "p10", "mean"}


def test_unknown_estimator_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown estimator 'fastest'.*min, p10, median"):
        estimate(REPEATS, "fastest")


def test_interval_of_the_minimum_is_seeded_and_holds_it():
    low, high = interval(REPEATS, "min")
    assert low == 5.0 and 5.0 <= high <= 5.2  # the few fastest repeats
    assert interval(REPEATS, "min") == (low, high)


def test_first_repeats_then_more_only_for_a_contender_with_a_wide_interval():
    timing = TimingConfig(repeat=5, chunk=5, max_repeat=15, target_width=0.005, contender_ratio=1.5, max_timing_s=10)
    assert more_repeats([], timing, None) == 5
    assert more_repeats([1e-3] * 3, timing, None) == 2
    wide = [1.0e-3, 1.1e-3, 1.2e-3, 1.3e-3, 1.4e-3]
    assert more_repeats(wide, timing, best_s=None) == 5  # the first of its task: a contender
    assert more_repeats(wide, timing, best_s=0.9e-3) == 5  # within 1.5x of the best
    assert more_repeats(wide, timing, best_s=0.5e-3) == 0  # 2x the best: hopeless
    assert more_repeats([1e-3] * 5, timing, best_s=None) == 0  # the interval is already narrow
    assert more_repeats(wide * 3, timing, best_s=None) == 0  # max_repeat reached
    assert more_repeats(wide, TimingConfig(adaptive=False), best_s=None) == 0


def test_timing_budget_bounds_the_repeats():
    timing = TimingConfig(repeat=5, chunk=5, max_repeat=100, target_width=0.0, max_timing_s=0.05)
    # 5 repeats of 8 ms = 40 ms of the 50 ms budget: one more fits
    assert more_repeats([8e-3, 9e-3, 8.5e-3, 9.5e-3, 8.2e-3], timing, None) == 1
    # tiny kernels: a repeat lasts min_repeat_ms (2 ms), so 20 more fit
    assert more_repeats([1e-5, 2e-5, 1.5e-5, 1.2e-5, 1.1e-5], timing, None) == 5


def test_a_contender_gets_its_chunks_even_when_they_agree():
    """Repeats that all fell in one slow state agree too: ``min_chunks`` asks for more anyway."""
    spaced = TimingConfig(repeat=5, chunk=5, max_repeat=15, min_chunks=3, max_timing_s=10)
    narrow = [1e-3] * 5
    assert more_repeats(narrow, TimingConfig(), None) == 0  # the default stops: the interval is narrow
    assert more_repeats(narrow, spaced, None, chunks=1) == 5
    assert more_repeats(narrow * 2, spaced, None, chunks=2) == 5
    assert more_repeats(narrow * 3, spaced, None, chunks=3) == 0  # max_repeat, and its chunks done
    assert more_repeats(narrow, spaced, best_s=0.5e-3, chunks=1) == 0  # hopeless: no chunks owed
    budget = TimingConfig(repeat=5, chunk=5, max_repeat=15, min_chunks=3, max_timing_s=6e-3)
    assert more_repeats([1.1e-3] * 5, budget, None, chunks=1) == 0  # the timing budget still bounds it
