"""The PPO agent: online learning from measured rewards (fake latencies), seeded, policies saved and reused."""

import pytest
from conftest import ODD_MATMUL

from msgym.envs.outcome import measure_candidates
from msgym.envs.schedule_env import ScheduleEnv
from msgym.search import SearchContext, create, tune
from msgym.space import design_spaces
from msgym.tasks import get_task

SMALL = {"n_steps": 16, "batch_size": 8}  # several PPO updates within a few trials


def _scalar_tags(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir))
    events.Reload()
    return events, set(events.Tags()["scalars"])


def test_learns_online_logs_and_saves_its_policy(tmp_path, fake_measurer):
    result = tune(
        "gmm-64", "ppo", trials=8, seed=0, logdir=tmp_path, progress=False, agent_options=SMALL, measurer=fake_measurer
    )
    assert result.trials == 8 and result.best is not None and result.best_gflops > 0
    run = next(tmp_path.iterdir())
    assert (run / "policy.zip").is_file()
    events, tags = _scalar_tags(run)
    assert {
        "rollout/ep_rew_mean",
        "train/policy_gradient_loss",
        "train/entropy_loss",
        "search/reward",
        "agent/ppo_updates",
    } <= tags
    assert events.Scalars("agent/ppo_updates")[-1].value >= 1  # it did learn during the search

    # The saved policy proposes on another task (the encodings do not depend on the task).
    again = tune(
        "sfm-64",
        "ppo",
        trials=3,
        seed=1,
        progress=False,
        measurer=fake_measurer,
        agent_options={"policy": str(run / "policy.zip"), **SMALL},
    )
    assert again.trials == 3 and again.best is not None


def test_same_seed_same_proposals_given_the_same_results(fake_measurer):
    import random

    import numpy as np
    import torch

    measurer = fake_measurer
    task = get_task(ODD_MATMUL)
    spaces = design_spaces(task)
    baseline = measurer.baseline(task).latency_s
    a, b = create("ppo", **SMALL), create("ppo", **SMALL)
    random.seed(11)
    outside = random.getstate(), np.random.get_state()[1].tolist(), torch.get_rng_state()
    for s in (a, b):
        s.setup(SearchContext(spaces, 4, trials=6, baseline_s=baseline))
    try:
        for _ in range(6):
            pa, pb = a.propose(1), b.propose(1)
            assert pa == pb and len(pa) == 1
            # The agents' use of the global generators (SB3's) never reaches the caller's stream.
            assert (random.getstate(), np.random.get_state()[1].tolist()) == outside[:2]
            assert torch.equal(torch.get_rng_state(), outside[2])
            results = measure_candidates(measurer, spaces, [(c.space, c.decision_list()) for c in pa])
            a.observe(pa, results)
            b.observe(pb, results)
    finally:
        a.close()
        b.close()


def test_a_policy_for_another_encoding_is_a_clear_error(tmp_path, fake_measurer):
    from sb3_contrib import MaskablePPO

    path = tmp_path / "other.zip"
    MaskablePPO("MlpPolicy", ScheduleEnv("gmm-64", n_actions=8), device="cpu").save(str(path))
    with pytest.raises(ValueError, match="does not fit this environment"):
        tune(
            "gmm-64",
            "ppo",
            trials=1,
            progress=False,
            measurer=fake_measurer,
            agent_options={"policy": str(path), "trust_policy": True},
        )
    with pytest.raises(ValueError, match="no saved policy"):
        create("ppo", policy=str(tmp_path / "missing.zip"))


def test_no_run_folder_writes_no_logs(tmp_path, monkeypatch, fake_measurer):
    """Without a run folder the agent logs nowhere: SB3's default logger would make an empty
    ``SB3-<date>`` folder in the temporary directory at every search."""
    import tempfile

    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = tune("gmm-64", "ppo", trials=4, seed=0, progress=False, agent_options=SMALL, measurer=fake_measurer)
    assert result.trials == 4
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("SB3-")] == []
