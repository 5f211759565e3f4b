"""Candidate enumeration against brute force on small extents."""

import itertools
import math

import pytest

from msgym.decisions import (
    CategoricalSpec,
    LocationSpec,
    PartitionedTileSpec,
    TileSpec,
    all_values,
    count_values,
    divisors,
)


def brute_tilings(extent, n):
    return [t for t in itertools.product(range(1, extent + 1), repeat=n) if math.prod(t) == extent]


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("max_inner", [-1, 1, 4, 16])
def test_perfect_tile_matches_brute_force(n, max_inner):
    for extent in list(range(1, 25)) + [36, 37, 48, 64]:
        if n == 4 and extent > 36:
            continue
        spec = TileSpec(kind="SamplePerfectTile", default=None, loop_extent=extent, n=n, max_innermost_factor=max_inner)
        expected = {t for t in brute_tilings(extent, n) if max_inner == -1 or t[-1] <= max_inner}
        got = [tuple(v) for v in all_values(spec)]
        assert len(got) == len(set(got)), "a tiling is reachable twice"
        assert set(got) == expected, (extent, n, max_inner)
        assert count_values(spec) == len(expected)


def test_every_offered_tile_factor_can_be_completed():
    spec = TileSpec(kind="SamplePerfectTile", default=None, loop_extent=48, n=4, max_innermost_factor=2)
    for first in spec.options(()):
        assert any(v[0] == first for v in all_values(spec))


@pytest.mark.parametrize("pos,factor", [(0, 1), (1, 2), (2, 4), (1, 3)])
def test_partitioned_tile_matches_brute_force(pos, factor):
    for extent in (8, 12, 24, 7):
        spec = PartitionedTileSpec(
            kind="SamplePartitionedTile",
            default=None,
            loop_extent=extent,
            n=3,
            partition_pos=pos,
            innerpart_factor=factor,
        )
        if extent % factor:
            assert spec.n_sub_steps == 0 and spec.value(()) == [-1, 1, 1]
            continue
        expected = {t for t in brute_tilings(extent, 3) if math.prod(t[pos:]) % factor == 0}
        assert {tuple(v) for v in all_values(spec)} == expected


def test_non_constant_extent_is_fixed_like_tvm():
    spec = TileSpec(kind="SamplePerfectTile", default=None, loop_extent=None, n=3, max_innermost_factor=4)
    assert spec.n_sub_steps == 0 and spec.value(()) == [-1, 1, 1]


def test_categorical_and_location_offer_every_candidate():
    cat = CategoricalSpec(kind="SampleCategorical", default=0, candidates=(0, 16, 64, 512))
    assert all_values(cat) == [0, 1, 2, 3]
    assert cat.option_labels([0, 3]) == [0, 512]
    loc = LocationSpec(kind="SampleComputeLocation", default=-1, locations=(-2, -1, 0, 3))
    assert all_values(loc) == [-2, -1, 0, 3]


def test_divisors():
    for n in range(1, 200):
        assert list(divisors(n)) == [d for d in range(1, n + 1) if n % d == 0]


def test_accepts_exactly_the_reachable_values():
    spec = TileSpec(kind="SamplePerfectTile", default=None, loop_extent=12, n=3, max_innermost_factor=4)
    reachable = all_values(spec)
    for t in brute_tilings(12, 3):
        assert spec.accepts(list(t)) == (list(t) in reachable)
    assert not spec.accepts([12]) and not spec.accepts("x")
    loc = LocationSpec(kind="SampleComputeLocation", default=-1, locations=(-1, 0, 2))
    assert loc.accepts(2) and not loc.accepts(1)
