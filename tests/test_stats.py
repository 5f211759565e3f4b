"""Bootstrap intervals and geometric means on fixed inputs: known values."""

import math

import numpy as np
import pytest

from msgym.stats import bootstrap_ci, fast_p, geomean, geomean_ci, separated


def test_bootstrap_intervals():
    assert bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0)
    assert bootstrap_ci([7.0]) == (7.0, 7.0)
    assert all(math.isnan(x) for x in bootstrap_ci([]))
    # Two values: the resampled mean is 0, 0.5 or 1 with chances 1/4, 1/2, 1/4: its 2.5% and
    # 97.5% quantiles are exactly 0 and 1.
    assert bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)
    low, high = bootstrap_ci([1, 2, 3, 4, 5])
    assert 1 < low < 3 < high < 5 and bootstrap_ci([1, 2, 3, 4, 5]) == (low, high)  # seeded: repeatable
    wide = bootstrap_ci([1, 2, 3, 4, 5], level=0.99)
    assert wide[0] <= low and wide[1] >= high
    assert bootstrap_ci([1, 2, 100], statistic=np.median)[1] <= 100


def test_geometric_means_and_separation():
    assert geomean([1, 4]) == pytest.approx(2.0) and geomean([]) == 0.0
    g, ci = geomean_ci([[1.0, 1.0], [4.0, 4.0]])
    assert g == pytest.approx(2.0) and ci == pytest.approx((2.0, 2.0))
    g, (low, high) = geomean_ci([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])
    assert g == pytest.approx(math.sqrt(2 * 20)) and low < g < high
    assert separated((1, 2), (3, 4)) and separated((3, 4), (1, 2)) and not separated((1, 3), (2, 4))


def test_fast_p_on_known_values():
    speedups = [2.0, 1.0, 0.9, 0.5, None]  # None: no correct kernel, counted as a failure
    assert fast_p(speedups, 1.0) == pytest.approx(2 / 5)
    assert fast_p(speedups, 0.8) == pytest.approx(3 / 5)
    assert fast_p(speedups, 0.0) == pytest.approx(4 / 5)
    assert math.isnan(fast_p([], 1.0))
