"""A verification that falls in a slow spell is done again (verify.py's ``verify_steady``)."""

import pytest

from msgym.search.verify import SPELL_SLOWDOWN, candidate_key, slowdown, verify_steady
from msgym.space import design_spaces
from msgym.tasks import get_task


@pytest.fixture
def two(fake_measurer):
    """gmm-64's two default candidates and the latencies the fake runner gives them."""
    task = get_task("gmm-64")
    spaces = design_spaces(task)
    cands = [{"space": s, "decisions": spaces.default_decisions(s)} for s in (0, 1)]
    latencies = [fake_measurer.measure(task, spaces.program(c["space"], c["decisions"]).mod).latency_s for c in cands]
    return task, cands, latencies


def test_slowdown_is_the_median_of_verified_over_in_loop():
    cands = [{"space": 0, "decisions": [k], "latency_s": 1.0} for k in range(3)] + [{"space": 0, "decisions": [9]}]
    verdicts = {candidate_key(c): {"latency_s": v} for c, v in zip(cands, [1.0, 1.3, 2.0, 5.0])}
    assert slowdown(cands, verdicts) == 1.3  # the one without an in-loop latency does not count
    assert slowdown(cands[3:], verdicts) is None


def test_a_verification_as_fast_as_the_loop_is_done_once(fake_measurer, two):
    task, cands, latencies = two
    waits = []
    in_loop = [{**c, "latency_s": lat} for c, lat in zip(cands, latencies)]
    verdicts, steadiness = verify_steady(task, in_loop, fake_measurer, rounds=1, sleep=waits.append)
    assert steadiness == {"slowdown": 1.0, "attempts": 1} and waits == []
    assert [verdicts[candidate_key(c)]["latency_s"] for c in cands] == latencies


def test_a_verification_slower_than_the_loop_is_done_again_after_each_wait(fake_measurer, two):
    """The kernels measured twice as fast in the loop as now: a slow spell that does not pass, so
    every wait is spent and the figures still say how slow the kept try was."""
    task, cands, latencies = two
    waits = []
    in_loop = [{**c, "latency_s": lat / 2} for c, lat in zip(cands, latencies)]
    before = fake_measurer.measured
    said = []
    verdicts, steadiness = verify_steady(
        task, in_loop, fake_measurer, rounds=1, waits=(3.0, 7.0), sleep=waits.append, say=said.append
    )
    assert waits == [3.0, 7.0] and steadiness["attempts"] == 3
    assert len(said) == 2 and "2.00x slower than the loop" in said[0] and "again in 7 s" in said[1]
    assert steadiness["slowdown"] == pytest.approx(2.0) and steadiness["slowdown"] > SPELL_SLOWDOWN
    assert fake_measurer.measured - before == 3 * len(cands)  # each try re-times every candidate
    assert [verdicts[candidate_key(c)]["latency_s"] for c in cands] == latencies
