"""MetaSchedule's own tuner (evolutionary search + XGBoost) driven by msgym's loop and measurer (fake latencies)."""

import pytest

from msgym.search import create, tune


def test_runs_metaschedules_search_through_msgyms_measurer(fake_measurer):
    agent = create("metaschedule", num_trials_per_iter=3, population_size=64)
    result = tune("gmm-64", agent, trials=7, seed=0, progress=False, measurer=fake_measurer)
    assert (result.trials, agent.unlocated, result.errors) == (7, 0, 0) and result.best is not None
    assert agent.unlocated == 0  # every MetaSchedule candidate is a point of msgym's design spaces
    records = agent.database.get_all_tuning_records()
    assert len(records) == 6  # two full batches told back to MetaSchedule; the budget cut the third
    assert min(float(r.run_secs[0]) for r in records) >= result.best.latency_s


def test_bad_options():
    with pytest.raises(ValueError, match="num_trials_per_iter"):
        create("metaschedule", num_trials_per_iter=0)
    with pytest.raises(ValueError, match="its options are: cost_model"):
        create("metaschedule", trials_per_iter=3)
