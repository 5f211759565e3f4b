"""Design spaces on real TVM: valid candidates, replay, postprocessing, loud failures."""

import random

import pytest
import tvm_ffi
from conftest import ODD_ADD, ODD_MATMUL

from msgym import space as space_mod
from msgym.decisions import LocationSpec, TileSpec, all_values
from msgym.space import DesignSpaces, InvalidCandidate, UnsupportedDecision, design_spaces
from msgym.tasks import get_task


class _Stop(Exception):
    pass


def snapped_location(spaces, space, decisions_before, d):
    """What TVM keeps when asked for compute location d after these decisions (brute force:
    a fresh replay per d, stopped right after the location is sampled)."""
    sch = space_mod.Schedule(spaces.task.mod)
    calls = iter(list(decisions_before) + [d])

    def provide(inst, inputs, attrs, decision):
        if decision is None:
            return decision
        try:
            return next(calls)
        except StopIteration:
            raise _Stop("stop") from None

    try:
        spaces.traces[space].apply_to_schedule(sch, remove_postproc=True, decision_provider=provide)
    except Exception as err:  # our stop, raised through TVM
        assert "stop" in str(err)
    trace = sch.trace
    sampled = [trace.decisions[i] for i in trace.insts if i in trace.decisions]
    return int(sampled[len(decisions_before)])


def walk(spaces, rng, on_spec=None, space=None):
    ro = spaces.rollout(space)
    while not ro.done:
        if on_spec is not None and not ro.prefix:
            on_spec(ro)
        ro.choose(rng.choice(ro.options()))
    return ro


@pytest.mark.parametrize("task", ["sfm-64", "nrm", "c2d"])
def test_compute_locations_match_brute_force(task):
    spaces = design_spaces(get_task(task))
    rng = random.Random(1)
    checked = 0

    def check(ro):
        nonlocal checked
        if isinstance(ro.spec, LocationSpec):
            brute = {d for d in range(-2, 40) if snapped_location(spaces, ro.space, ro.decisions, d) == d}
            assert set(ro.spec.locations) == brute | {-1}
            checked += 1

    for _ in range(3):
        walk(spaces, rng, check)
    assert checked > 0


def test_tile_options_match_the_loop_extent_tvm_reports():
    spaces = design_spaces(get_task(ODD_MATMUL))
    seen = []

    def check(ro):
        if isinstance(ro.spec, TileSpec):
            seen.append(ro.spec.loop_extent)
            assert {tuple(v) for v in all_values(ro.spec)}  # non-empty

    walk(spaces, random.Random(0), check, space=0)
    assert sorted(set(seen)) == [29, 37, 53]


@pytest.mark.parametrize("task", ["gmm-64", "sfm-64", "dep", ODD_MATMUL, ODD_ADD])
def test_replay_equals_the_trace(task):
    spaces = design_spaces(get_task(task))
    rng = random.Random(7)
    for _ in range(3):
        ro = walk(spaces, rng)
        assert ro.error is None
        sch = spaces.schedule(ro.space, ro.decisions)
        trace = sch.trace
        assert [space_mod._plain(trace.decisions[i]) for i in trace.insts if i in trace.decisions] == ro.decisions
        assert tvm_ffi.structural_equal(sch.mod, ro.live.mod)
        final = spaces.program(ro.space, ro.decisions)  # postprocessors applied
        assert final.mod is not None


def test_every_space_can_be_chosen():
    spaces = design_spaces(get_task("sfm-64"))
    assert len(spaces) > 1
    ro = spaces.rollout()
    assert ro.spec.kind == "DesignSpace" and ro.options() == list(range(len(spaces)))
    ro.choose(len(spaces) - 1)
    assert ro.space == len(spaces) - 1
    ro.close()


def test_defaults_reproduce_the_design_space():
    spaces = design_spaces(get_task("gmm-64"))
    for space in range(len(spaces)):
        defaults = spaces.default_decisions(space)
        sch = spaces.schedule(space, defaults)
        assert tvm_ffi.structural_equal(sch.mod, spaces.schedule(space, defaults).mod)


def test_invalid_choice_is_refused_with_the_valid_ones():
    ro = design_spaces(get_task("gmm-64")).rollout(0)
    with pytest.raises(ValueError, match="valid"):
        ro.choose(10_000)
    with pytest.raises(ValueError, match="not a valid SamplePerfectTile"):
        ro.choose_decision([3, 1, 1, 1])
    ro.choose_decision(ro.spec.default)  # still usable after a refusal
    assert ro.decision_index == 1
    ro.close()


def test_replaced_decision_is_an_invalid_candidate():
    spaces = design_spaces(get_task("gmm-64"))
    decisions = spaces.default_decisions(0)
    decisions[1] = [3, 1, 1, 1]  # not a tiling of 64: TVM would silently replace it
    with pytest.raises(InvalidCandidate, match="replaced"):
        spaces.program(0, decisions)


def test_failed_postprocessing_is_an_invalid_candidate():
    spaces = DesignSpaces(get_task("gmm-64"))

    class Rejects:  # an injected fault: a postprocessor that rejects every program
        def apply(self, sch):
            return False

    spaces.postprocs = [Rejects()]
    with pytest.raises(InvalidCandidate, match="rejected"):
        spaces.program(0, spaces.default_decisions(0))


def test_unknown_decision_kind_fails_loudly(monkeypatch):
    monkeypatch.setattr(space_mod, "SUPPORTED", ("SamplePerfectTile", "SampleComputeLocation"))
    with pytest.raises(UnsupportedDecision, match="SampleCategorical"):
        DesignSpaces(get_task("gmm-64"))


def test_abandoned_rollout_stops_its_thread():
    ro = design_spaces(get_task("gmm-64")).rollout(0)
    thread = ro._thread
    ro.close()
    assert thread is not None and not thread.is_alive()


def test_sample_keeps_preferred_decisions_that_are_valid():
    spaces = design_spaces(get_task("gmm-64"))
    rng = random.Random(3)
    space, decisions = spaces.sample(rng)
    assert spaces.sample(rng, space=space, preferred=decisions) == (space, decisions)
    mutated = list(decisions)
    mutated[1] = [3, 1, 1, 1]  # not a tiling of 64: re-drawn, the rest kept
    child_space, child = spaces.sample(rng, space=space, preferred=mutated)
    assert child_space == space and child[0] == decisions[0] and child[2:] == decisions[2:]
    assert child[1] != [3, 1, 1, 1]
    spaces.program(child_space, child)
