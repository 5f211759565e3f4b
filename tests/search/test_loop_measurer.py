"""The bridge between an agent's own training loop (in a thread) and the search loop."""

import pytest

from msgym.measure import MeasureResult, ProgramRequest
from msgym.search import Candidate
from msgym.search.loop_measurer import LoopMeasurer

A, B = Candidate.of(0, [1, [2, 3]]), Candidate.of(0, [2, [1, 6]])


def _body(loop, asks):
    def run():
        for cand in asks:
            loop.measure_programs(None, [ProgramRequest(cand.space, cand.decision_list(), lambda: None)])

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
