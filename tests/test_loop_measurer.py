"""The bridge between an agent's own training loop (in a thread) and the search loop."""

import pytest

from msgym.loop_measurer import LoopMeasurer
from msgym.measure import MeasureResult
from msgym.search import Candidate

A, B = Candidate.of(0, [1, [2, 3]]), Candidate.of(0, [2, [1, 6]])


def _body(loop, asks):
    def run():
        for cand in asks:
            loop.measure_candidates(None, None, [(cand.space, cand.decision_list())])
    return run


def test_new_candidates_go_to_the_loop_and_repeats_are_free_until_the_agent_stalls():
    loop = LoopMeasurer(baseline_s=1.0, max_repeats=2)
    loop.start(_body(loop, [A, A, A, A]))
    assert loop.step() == ("measure", A)
    # A repeated twice in a row: the loop may propose another
    assert loop.step([A], [MeasureResult(latency_s=0.5)]) == ("stalled", None)
    assert loop.step([B], [MeasureResult(latency_s=0.7)]) == ("done", None)
    assert loop.repeats == 3 and loop.stalls == 1 and loop.memory[B].latency_s == 0.7


def test_stop_ends_a_waiting_agent_and_errors_surface_in_the_loop():
    loop = LoopMeasurer(baseline_s=1.0)
    loop.start(_body(loop, [A, B]))
    assert loop.step() == ("measure", A)
    loop.stop()
    assert not loop._thread.is_alive()

    def broken():
        raise KeyError("boom")

    loop = LoopMeasurer(baseline_s=1.0)
    loop.start(broken)
    with pytest.raises(RuntimeError, match="training loop failed.*boom"):
        loop.step()


def test_the_agent_keeps_its_own_random_stream():
    import random

    def draws(loop):
        def run():
            while True:
                loop.measure_candidates(None, None, [(0, [random.randrange(10**9)])])
        return run

    a, b = LoopMeasurer(1.0), LoopMeasurer(1.0)
    random.seed(3)
    a.start(draws(a))
    b.start(draws(b))
    first_a, first_b = a.step(), b.step()
    random.random()  # the search loop's own use of the generator does not reach the agents
    assert first_a == first_b
    assert a.step([first_a[1]], [MeasureResult(latency_s=1.0)]) == b.step([first_b[1]], [MeasureResult(latency_s=1.0)])
    a.stop()
    b.stop()
