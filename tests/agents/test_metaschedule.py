"""MetaSchedule's own tuner (evolutionary search + XGBoost) driven by msgym's loop and measurer (fake latencies)."""

import pytest

from msgym.search import create, tune


def test_runs_metaschedules_search_through_msgyms_measurer(fake_measurer):
    agent = create("metaschedule", num_trials_per_iter=3, population_size=64)
    result = tune("gmm-64", agent, trials=7, seed=0, progress=False, measurer=fake_measurer)
    assert (result.trials, result.errors) == (7, 0) and result.best is not None
    # A candidate outside msgym's design spaces (now and then MetaSchedule's MutateParallel changes
    # the parallel extent, which msgym's spaces fix) is told back as failed and costs no trial.
    records = agent.database.get_all_tuning_records()
    failed = sum(float(r.run_secs[0]) >= 1e10 for r in records)
    assert failed == agent.unlocated
    # Every batch but the last, which the budget cut, is told back: 7 trials in batches of at most 3.
    assert 7 - 3 < len(records) - failed < 7
    assert min(float(r.run_secs[0]) for r in records) >= result.best.latency_s


def test_a_candidate_outside_msgyms_spaces_is_not_measured(fake_measurer):
    """Every candidate MetaSchedule proposes is located in msgym's spaces (its final program
    compared with the replayed one); one that is not costs no trial and is told as failed."""
    agent = create("metaschedule", num_trials_per_iter=3, population_size=64)
    agent._locate = lambda mc, real=agent._locate: None if agent.unlocated == 0 and not agent.batch else real(mc)
    result = tune("gmm-64", agent, trials=4, seed=0, progress=False, measurer=fake_measurer)
    assert result.trials == 4 and agent.unlocated >= 1
    failed = [r for r in agent.database.get_all_tuning_records() if float(r.run_secs[0]) >= 1e10]
    assert len(failed) == agent.unlocated


def test_bad_options():
    with pytest.raises(ValueError, match="num_trials_per_iter"):
        create("metaschedule", num_trials_per_iter=0)
    with pytest.raises(ValueError, match="its options are: cost_model"):
        create("metaschedule", trials_per_iter=3)


def test_the_learned_agent_searches_with_the_pretrained_model(fake_measurer):
    """MetaSchedule's search guided by the MLP pretrained on the shipped dataset, fine-tuned on the
    task's measurements as they arrive."""
    agent = create("learned", num_trials_per_iter=3, population_size=64)
    assert agent.hparams()["cost_model"] == "auto"  # decided by the target
    result = tune("gmm-64", agent, trials=7, seed=0, progress=False, measurer=fake_measurer)
    assert result.trials == 7 and result.best is not None
    assert agent.hparams()["cost_model"] == "pretrained"  # a CPU task
    mlp = agent.msgym_model  # the msgym model inside MetaSchedule's adapter
    assert "gmm-64" in mlp.data and len(mlp.data["gmm-64"]) >= 3  # learned from the task's measurements


def test_the_learned_agent_is_the_default_and_searches_a_gpu_task_with_xgboost(fake_measurer):
    """No model pretrained on GPU measurements ships: on a GPU task the default agent starts from
    MetaSchedule's XGBoost; a cost model named by the user is kept."""
    from msgym.search import DEFAULT_AGENT, SearchContext
    from msgym.space import design_spaces
    from msgym.tasks import get_task

    assert DEFAULT_AGENT == "learned"
    # One search of MetaSchedule's per 64-trial budget (agents/learned.py), where its own agent asks for 16
    assert create("learned").hparams()["num_trials_per_iter"] == 72
    assert create("metaschedule").hparams()["num_trials_per_iter"] == 16
    spaces = design_spaces(get_task("gmm-64", {"kind": "cuda", "arch": "sm_90"}))
    agent = create(DEFAULT_AGENT, num_trials_per_iter=2, population_size=16)
    agent.setup(SearchContext(spaces, seed=0, trials=2, baseline_s=1e-3))
    assert agent.hparams()["cost_model"] == "xgb" and agent.propose(2)
    agent.close()
    # XGBoost starts from nothing there: MetaSchedule's 16 per batch, not one batch of 72 picked blind
    plain = create(DEFAULT_AGENT, population_size=16)
    plain.setup(SearchContext(spaces, seed=0, trials=2, baseline_s=1e-3))
    assert plain.hparams()["num_trials_per_iter"] == 16 and plain.measure_batch == 16
    assert plain.hparams()["genetic_iters"] == 4  # MetaSchedule's search there: the shorter one is unmeasured
    assert plain.hparams()["build_drop"] == 0.0  # builds go beside the runs there; the model knows CPU programs
    plain.close()
    chosen = create("learned", cost_model="mlp", num_trials_per_iter=2, population_size=16)
    chosen.setup(SearchContext(spaces, seed=0, trials=2, baseline_s=1e-3))
    assert chosen.hparams()["cost_model"] == "mlp"
    chosen.close()
    with pytest.raises(ValueError, match="choose auto, xgb"):
        create("learned", cost_model="bogus")


def test_the_cost_model_picks_from_two_programs_and_keeps_metaschedules_random_share():
    """With two programs (packed weights and not) the cost model picks a batch from both searches'
    candidates: each search's best few first (``SEARCH_FLOOR`` of the batch shared out, in turn),
    then the best-scored of the rest; the random picks each search puts last in its batch
    (``EPS_GREEDY``) are kept, taken from the searches in turn, and served last, as MetaSchedule
    orders its own batch."""
    from agents.metaschedule import EPS_GREEDY, SEARCH_FLOOR

    agent = create("metaschedule", num_trials_per_iter=40)
    agent.contexts = ["packed", "plain"]
    per_search = 40 - int(40 * EPS_GREEDY)  # 38 model picks, then 2 random ones, per search
    drawn = [(i, f"{name}-{k}") for i, name in enumerate(agent.contexts) for k in range(40)]
    # the model rates the packed program's candidates above the plain one's, and random picks lowest
    score = {f"{name}-{k}": (2 - i) * 100 - k for i, name in enumerate(agent.contexts) for k in range(40)}

    class Model:
        def predict(self, context, candidates):
            assert all(c.startswith(context) for c in candidates)
            return [score[c] for c in candidates]

    agent.cost_model = Model()
    picked = [c for _, c in agent._best(drawn, 40)]
    assert len(picked) == len(set(picked)) == 40
    assert picked[-2:] == ["packed-38", "plain-38"]  # the first random pick of each search, served last
    floor = int(per_search * SEARCH_FLOOR / 2)  # 9 of each search's best, though the model rates plain lower
    assert picked[: 2 * floor] == [f"{name}-{k}" for k in range(floor) for name in ("packed", "plain")]
    rest = [f"packed-{k}" for k in range(floor, per_search - floor)]  # then the rest by the model's scores
    assert picked[2 * floor : -2] == rest


def test_the_learned_agent_runs_one_search_per_design_space():
    """``PER_SKETCH``: one evolution per design space, the population shared out, each search's
    candidates points of its own design space; MetaSchedule's own agent keeps one search over all."""
    from msgym.search import SearchContext
    from msgym.space import design_spaces
    from msgym.tasks import get_task

    spaces = design_spaces(get_task("gmm-64"))
    assert len(spaces.traces) > 1
    agent = create("learned", population_size=48, num_trials_per_iter=6)
    agent.setup(SearchContext(spaces, seed=0, trials=6, baseline_s=1e-3))
    try:
        assert len(agent.contexts) == len(spaces.traces)
        # two rounds of mutation per search where MetaSchedule runs four (agents/learned.py)
        assert {tc.search_strategy.genetic_num_iters for tc in agent.contexts} == {2}
        drawn = agent._draw()
        located = [(i, agent._locate(mc)) for i, mc in drawn]
        assert len(drawn) == 6 and {i for i, _ in drawn} == set(range(len(spaces.traces)))
        assert all(c.space == i for i, c in located if c is not None)
    finally:
        agent.close()
    baseline = create("metaschedule", population_size=16)
    baseline.setup(SearchContext(spaces, seed=0, trials=2, baseline_s=1e-3))
    assert len(baseline.contexts) == 1
    assert baseline.contexts[0].search_strategy.genetic_num_iters == 4
    baseline.close()


def test_the_learned_agent_leaves_the_costliest_predicted_builds_unmeasured():
    """``build_drop``: the search draws more than the batch, and the build-time model's costliest
    share of what each design space's search drew is left out; the kept ones keep their order
    (best-scored first), every search keeps its share."""
    import numpy as np

    from msgym.search import SearchContext
    from msgym.space import design_spaces
    from msgym.tasks import get_task

    spaces = design_spaces(get_task("gmm-64"))
    agent = create("learned", population_size=48, num_trials_per_iter=6, build_drop=0.5)
    assert agent.draw_size == 12 and create("learned").hparams()["build_drop"] == 0.25
    assert create("metaschedule").hparams()["build_drop"] == 0.0  # the baseline is MetaSchedule's own
    agent.setup(SearchContext(spaces, seed=0, trials=6, baseline_s=1e-3))
    try:
        drawn = []
        cheapest = agent._cheapest
        agent._cheapest = lambda d, n: (drawn.extend(d), cheapest(d, n))[1]
        kept = agent._draw()
        assert len(drawn) > 6 and len(kept) == 6 and agent.scalars()["build_dropped"] == len(drawn) - 6
        predicted = {}
        for i in {i for i, _ in drawn}:
            mine = [mc for j, mc in drawn if j == i]
            rows = agent.features.rows(agent.contexts[i], mine)
            predicted.update(zip(map(id, mine), agent.build_model.predict_rows(rows)))
        for i in {i for i, _ in drawn}:
            kept_i = [mc for j, mc in kept if j == i]
            dropped_i = [mc for j, mc in drawn if j == i and all(mc is not k for _, k in kept)]
            assert kept_i and len(kept_i) in (len(dropped_i), len(dropped_i) + 1, len(dropped_i) - 1)
            assert max(predicted[id(mc)] for mc in kept_i) <= min(predicted[id(mc)] for mc in dropped_i)
        order = [k for k, (_, mc) in enumerate(drawn) if any(mc is m for _, m in kept)]
        assert order == sorted(order) and np.isfinite(list(predicted.values())).all()
    finally:
        agent.close()
    with pytest.raises(ValueError, match="build_drop must be in"):
        create("learned", build_drop=1.0)
