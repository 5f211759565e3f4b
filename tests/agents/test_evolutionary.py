"""The evolutionary agent: valid, distinct children; seeded; end to end (fake latencies)."""

import pytest
from conftest import ODD_MATMUL

from msgym.envs.outcome import measure_candidates
from msgym.search import SearchContext, create, tune
from msgym.space import design_spaces
from msgym.tasks import get_task


def test_tunes_end_to_end_with_children(fake_measurer):
    result = tune(
        "gmm-64", create("evolutionary", population=4), trials=10, seed=3, progress=False, measurer=fake_measurer
    )
    assert result.trials == 10 and result.best is not None and result.errors == 0


def test_children_are_valid_distinct_and_seeded(fake_measurer):
    measurer = fake_measurer
    task = get_task(ODD_MATMUL)
    spaces = design_spaces(task)
    a = create("evolutionary", population=4)
    b = create("evolutionary", population=4)
    a.setup(SearchContext(spaces, 7))
    b.setup(SearchContext(spaces, 7))
    proposed = []
    for _ in range(3):  # one random generation, then two of children
        batch_a, batch_b = a.propose(4), b.propose(4)
        assert batch_a == batch_b  # same seed and same results: same proposals
        results = measure_candidates(measurer, spaces, [(c.space, c.decision_list()) for c in batch_a])
        a.observe(batch_a, results)
        b.observe(batch_b, results)
        proposed += batch_a
    assert len(set(proposed)) == len(proposed) == 12
    for cand in proposed[4:]:
        spaces.program(cand.space, cand.decision_list())  # every child is a valid program


def test_bad_arguments():
    with pytest.raises(ValueError, match="population"):
        create("evolutionary", population=1)
