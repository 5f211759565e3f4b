"""The MLP cost model (learning: real measurements); XGBoost behind the same interface; where they plug in."""

import numpy as np
import pytest

from msgym.cost_models import CostModelError, MLPCostModel, XGBCostModel, create, task_data
from msgym.cost_models.evaluation import pairwise_accuracy, top_k_score


def test_training_lowers_the_ranking_loss_and_ranks_held_out_pairs_better_than_chance(gmm64_measured):
    task, spaces, rows, baseline = gmm64_measured
    train, held_out = rows[:44], rows[44:]
    model = MLPCostModel(epochs=60)
    data = task_data(spaces, train, baseline)
    before = model.ranking_loss([data])
    fit = model.fit([data])
    assert model.ranking_loss([data]) < before and fit["loss_last_epoch"] < fit["loss_first_epoch"]
    pred = model.predict(spaces, [(s, d) for s, d, _ in held_out])
    latency = np.array([lat for _, _, lat in held_out])
    accuracy = pairwise_accuracy(pred, latency)
    print(f"held-out pairwise accuracy {accuracy:.3f}")
    assert accuracy > 0.6  # chance: 0.5
    assert 0 < top_k_score(pred, latency, 5) <= 1


def test_save_load_round_trips_predictions_exactly(gmm64_fake, mlp_path, tmp_path):
    task, spaces, rows, _ = gmm64_fake
    cands = [(s, d) for s, d, _ in rows[:10]]
    model = MLPCostModel.load(mlp_path)
    model.save(tmp_path / "again.pt")
    assert np.array_equal(model.predict(spaces, cands), create(str(tmp_path / "again.pt")).predict(spaces, cands))
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(CostModelError, match="not a saved MLP"):
        MLPCostModel.load(tmp_path / "junk.pt")
    with pytest.raises(CostModelError, match="unknown cost model 'gbdt'"):
        create("gbdt")


def test_empty_or_one_record_datasets_are_clear_errors(gmm64_fake):
    task, spaces, rows, baseline = gmm64_fake
    with pytest.raises(CostModelError, match="at least 2 successful measurements.*msgym collect"):
        MLPCostModel().fit([])
    with pytest.raises(CostModelError, match="gmm-64: 1"):
        MLPCostModel().fit([task_data(spaces, rows[:1], baseline)])


def test_the_mlp_learns_failures_as_slower_than_any_success(gmm64_fake):
    """A failed candidate (None latency) is learned at twice the task's slowest measured latency
    (as MetaSchedule's XGBoost ranks failures last); before any success there is nothing to rank it below."""
    import math

    from msgym.cost_models.metaschedule import metaschedule_cost_model

    task, spaces, rows, baseline = gmm64_fake
    cands = [(s, d) for s, d, _ in rows[:4]]
    model = MLPCostModel()
    model.update(spaces, cands[:2], [None, None], baseline)
    assert task.name not in model.data  # no success yet: nothing learned
    model.update(spaces, cands[:3], [None, 2e-3, 4e-3], baseline)
    assert np.allclose(model.data[task.name].log_speedup, [math.log(baseline / x) for x in (8e-3, 2e-3, 4e-3)])
    model.update(spaces, cands[3:], [None], baseline)  # the slowest so far is still 4 ms
    assert math.isclose(model.data[task.name].log_speedup[-1], math.log(baseline / 8e-3), rel_tol=1e-6)

    # The same inside MetaSchedule's search (its PyCostModel adapter): failures learned, not dropped.
    from msgym._tvm import ms
    from msgym.cost_models.data import final_programs

    fresh = MLPCostModel()
    adapter = metaschedule_cost_model(fresh, baseline)
    mcs = final_programs(spaces, cands[:2])
    ok = ms.runner.RunnerResult(run_secs=[1e-3], error_msg=None)
    failed = ms.runner.RunnerResult(run_secs=None, error_msg="build timed out after 10 s")
    adapter.update(spaces.context, mcs, [ok, failed])
    assert np.allclose(fresh.data[task.name].log_speedup, [math.log(baseline / 1e-3), math.log(baseline / 2e-3)])


def test_xgboost_scores_through_the_same_interface(gmm64_fake):
    task, spaces, rows, baseline = gmm64_fake
    model = XGBCostModel()
    model.update(spaces, [(s, d) for s, d, _ in rows[:32]], [lat for _, _, lat in rows[:32]], baseline)
    scores = model.predict(spaces, [(s, d) for s, d, _ in rows[32:]])
    assert scores.shape == (len(rows) - 32,) and np.isfinite(scores).all()


@pytest.mark.parametrize("agent", ["random", "evolutionary"])
def test_agents_pick_children_with_a_cost_model(agent, fake_measurer):
    measurer = fake_measurer
    from msgym.search import create as create_agent
    from msgym.search import tune

    strategy = create_agent(agent, cost_model="mlp", **({"population": 4} if agent == "evolutionary" else {}))
    result = tune("gmm-64", strategy, trials=8, seed=2, progress=False, measurer=measurer)
    assert result.trials == 8 and result.best is not None
    assert strategy.filter.learned == 8  # the model learned from every measured result
    with pytest.raises(CostModelError, match="unknown cost model"):
        create_agent(agent, cost_model="gbdt")


def test_the_mlp_drives_metaschedules_own_tuner(mlp_path, fake_measurer):
    measurer = fake_measurer
    from msgym.search import create as create_agent
    from msgym.search import tune

    strategy = create_agent("metaschedule", cost_model=str(mlp_path), num_trials_per_iter=3, population_size=64)
    result = tune("gmm-64", strategy, trials=6, seed=0, progress=False, measurer=measurer)
    assert result.trials == 6 and result.best is not None
    assert type(strategy.cost_model).__name__ == "MLPForMetaSchedule"


def test_a_new_mlp_leaves_torchs_global_generator_alone():
    import torch

    torch.manual_seed(5)
    before = torch.get_rng_state()
    a, b = MLPCostModel(seed=3), MLPCostModel(seed=3)
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.net.parameters(), b.net.parameters()))  # seeded all the same
    assert not torch.equal(next(MLPCostModel(seed=4).net.parameters()), next(a.net.parameters()))


def test_the_pretrained_model_scores_a_batch_as_it_scores_one_at_a_time():
    """cost_model=pretrained: the MLP shipped as package data, trained on the shipped dataset."""
    import random

    import numpy as np

    from msgym.cost_models import create
    from msgym.cost_models.data import feature_rows, final_programs
    from msgym.space import design_spaces
    from msgym.tasks import get_task

    model = create("pretrained")
    spaces = design_spaces(get_task("gmm-64"))
    cands = spaces.sample_distinct(random.Random(0), 16)
    rows = feature_rows(spaces, final_programs(spaces, cands))
    batch = model.predict_rows(rows)
    one_by_one = np.array([model.predict_rows([r])[0] for r in rows])
    assert np.allclose(batch, one_by_one, rtol=1e-5, atol=1e-5)
    assert np.isfinite(batch).all() and batch.std() > 0  # it tells candidates apart
