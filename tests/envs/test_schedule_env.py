"""The Gymnasium environment: checkers, masks, paging, rewards, records, pickling (real TVM design
spaces; latencies from the fake runner except in the ``hardware`` tests)."""

import json
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
import tvm_ffi
from conftest import ODD_ADD, ODD_MATMUL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import msgym
from msgym.envs.records import EpisodeRecord
from msgym.envs.schedule_env import ScheduleEnv
from msgym.measure import Measurer, TimingConfig
from msgym.tasks import get_task


def run_episode(env, rng, seed=0):
    obs, _ = env.reset(seed=seed)
    steps = 0
    while True:
        assert env.observation_space.contains(obs) and np.isfinite(obs).all()
        mask = env.get_wrapper_attr("action_masks")()  # what MaskablePPO reads through wrappers
        assert mask.any()
        obs, reward, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(mask))))
        steps += 1
        if terminated:
            return reward, info, steps


@pytest.mark.parametrize("env_id", sorted(msgym.ENV_IDS))
def test_checkers_pass_on_every_registered_id(env_id, mlp_path, fake_settings):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    predicted = msgym.ENV_IDS[env_id]["reward"].startswith("predicted")
    env = gym.make(
        env_id, task="gmm-64", measurer=fake_settings, **({"cost_model": str(mlp_path)} if predicted else {})
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
        sb3_check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []
    assert gym.spec(env_id).nondeterministic
    env.close()


def test_measured_episode_reports_latency_and_checked_output(measurer):
    env = gym.make("msgym/Schedule-v0", task="gmm-64")
    reward, info, _ = run_episode(env, np.random.default_rng(0))
    assert info["error"] is None, info["error"]
    assert info["latency_s"] > 0 and info["gflops"] > 0 and info["speedup"] > 0
    low, high = info["latency_ci95"]  # the measurement's own uncertainty
    assert 0 < low <= info["latency_s"] <= high
    # Same unit and estimator as the latency (a mix-up is 1000x, or the interval not bracketing it).
    # Not tighter: this 18 us kernel timed partly in one of the VM's 2x-slow states had an interval
    # up to 2.04x its latency, which is what the interval is there to say.
    assert high < 10 * info["latency_s"]
    assert reward == pytest.approx(np.log(info["speedup"]))
    assert len(info["decisions"]) == env.unwrapped.spaces.n_decisions(info["space"])
    env.close()


def test_reward_spaces_agree_on_one_kernel(fake_settings):
    rewards = {}
    for env_id in ("msgym/ScheduleSpeedup-v0", "msgym/ScheduleLatency-v0"):
        env = gym.make(env_id, task="gmm-64", measurer=fake_settings)
        rewards[env_id], info, _ = run_episode(env, np.random.default_rng(3))
        env.close()
        if env_id.endswith("Speedup-v0"):
            assert rewards[env_id] == pytest.approx(info["speedup"])
        else:
            assert rewards[env_id] == pytest.approx(-info["latency_s"] * 1e3)


def test_mask_is_exactly_the_valid_options():
    env = ScheduleEnv(task="sfm-64", n_actions=32)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    while not env.rollout.done:
        mask = env.action_masks()
        assert mask.sum() == len(env.rollout.options())
        env.step(int(rng.choice(np.flatnonzero(mask))))
    env.close()


def test_paging_reaches_every_option_when_there_are_more_than_n_actions():
    env = ScheduleEnv(task="sfm-64", n_actions=2, observation="context")
    env.reset(seed=0)
    n_spaces = len(env.spaces)
    assert env.rollout.spec.kind == "DesignSpace" and n_spaces > 2  # 9 spaces: 4 levels of 2
    reached = []

    def explore(prefix):
        env.reset(seed=0)
        for a in prefix:
            env.step(a)
        if env.rollout.space is not None:  # the paged choice is complete
            reached.append(env.rollout.space)
            return
        for a in np.flatnonzero(env.action_masks()):
            explore([*prefix, int(a)])

    explore([])
    assert sorted(reached) == list(range(n_spaces))  # each once: none dropped, none twice
    env.close()


def test_masked_out_action_is_wrapped_not_a_crash():
    env = ScheduleEnv(task="gmm-64")
    env.reset(seed=0)
    invalid = int(np.flatnonzero(~env.action_masks())[0])
    _, _, _, _, info = env.step(invalid)
    assert info["action_wrapped"] is True
    env.close()


@pytest.mark.hardware
def test_failing_kernel_gets_the_error_reward():
    slow = Measurer(TimingConfig(run_timeout_s=0.001, repeat=50))  # a real run past its timeout
    env = ScheduleEnv(task="gmm-512", measurer=slow, observation="context")
    try:
        reward, info, _ = run_episode(env, np.random.default_rng(0))
        assert "timed out" in info["error"]
        assert reward == env.reward_space.on_error
        assert info["latency_s"] is None
    finally:
        env.close()
        slow.close()


def test_record_round_trips_and_replays_to_the_same_program(fake_measurer):
    env = ScheduleEnv(task=ODD_MATMUL, measurer=fake_measurer)
    _, info, _ = run_episode(env, np.random.default_rng(5), seed=11)
    record = EpisodeRecord.from_json(json.loads(json.dumps(info["record"])))
    assert record.seed == 11 and record.task == ODD_MATMUL
    with pytest.raises(ValueError, match="names a Python file, which loading would run"):
        record.replay()  # a record's own string never makes msgym import a file
    replayed = record.replay(task=ODD_MATMUL)  # named by the user: trusted
    original = env.spaces.program(info["space"], info["decisions"])
    assert tvm_ffi.structural_equal(replayed.mod, original.mod)
    from msgym.space import design_spaces

    gmm = design_spaces(get_task("gmm-64"))
    builtin = EpisodeRecord(task="gmm-64", target=info["record"]["target"], space=0, decisions=gmm.default_decisions(0))
    assert tvm_ffi.structural_equal(builtin.replay().mod, gmm.program(0, gmm.default_decisions(0)).mod)
    with pytest.raises(ValueError, match="not an msgym episode record"):
        EpisodeRecord.from_json({"tusk": 1})
    env.close()


def test_reset_options_switch_task_and_render_shows_program():
    env = ScheduleEnv(task="gmm-64", render_mode="ansi")
    _, info = env.reset(seed=0, options={"task": "sfm-64"})
    assert info["task"] == "sfm-64"
    text = env.render()
    assert "sfm-64" in text and "decisions so far" in text and "T.prim_func" in text
    env.close()


def test_bad_arguments_name_the_valid_choices():
    with pytest.raises(ValueError, match="log_speedup"):
        ScheduleEnv(task="gmm-64", reward="fast")
    with pytest.raises(ValueError, match="features"):
        ScheduleEnv(task="gmm-64", observation="pixels")
    with pytest.raises(ValueError, match="n_actions"):
        ScheduleEnv(task="gmm-64", n_actions=1)


def test_env_pickles_with_its_measurer_settings(fake_measurer):
    """(Subprocess vector envs: tests/envs/test_clients.py.)"""
    env = ScheduleEnv(task="gmm-64", observation="context", measurer=fake_measurer)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.task.name == "gmm-64" and clone.observation == "context"
    # The copy makes a measurer of its own with the same settings (it never shares worker processes).
    assert clone.measurer is not fake_measurer and clone.measurer.settings() == fake_measurer.settings()
    clone.close()
    env.close()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    task=st.sampled_from(["gmm-64", "sfm-64", "c2d", "nrm", ODD_MATMUL, ODD_ADD]),
    choices=st.lists(st.integers(0, 10_000), min_size=60, max_size=60),
)
def test_random_masked_actions_reach_a_valid_program(task, choices):
    env = ScheduleEnv(task=task, observation="context")
    env.reset(seed=0)
    i = 0
    while not env.rollout.done:
        valid = np.flatnonzero(env.action_masks())
        env.step(int(valid[choices[i % len(choices)] % len(valid)]))
        i += 1
    ro = env.rollout
    assert ro.error is None
    program = env.spaces.program(ro.space, ro.decisions)  # postprocessors accept it
    assert program.mod is not None
    env.close()


def test_predicted_reward_measures_nothing_and_says_so(mlp_path, fake_measurer):
    env = gym.make("msgym/SchedulePredicted-v0", task="gmm-64", cost_model=str(mlp_path), measurer=fake_measurer)
    before = fake_measurer.measured
    reward, info, _ = run_episode(env, np.random.default_rng(3))
    assert fake_measurer.measured == before
    assert info["predicted"] and info["latency_s"] is None and info["speedup"] is None
    assert reward == pytest.approx(np.log(info["predicted_speedup"]))
    assert info["record"]["reward_space"] == "predicted_log_speedup" and info["record"]["latency_s"] is None
    with pytest.raises(ValueError, match="needs cost_model="):
        gym.make("msgym/SchedulePredicted-v0", task="gmm-64")


def test_an_env_closes_the_measurer_it_made_and_never_one_it_was_given(fake_measurer, fake_settings):
    own = ScheduleEnv(task="gmm-64", measurer=fake_settings)
    run_episode(own, np.random.default_rng(0))
    made = own.measurer
    own.close()
    assert own._measurer is None and made.builder.proc is None
    given = ScheduleEnv(task="gmm-64", measurer=fake_measurer)
    run_episode(given, np.random.default_rng(0))
    given.close()
    assert given.measurer is fake_measurer and fake_measurer.store is not None  # still usable
    assert fake_measurer.measure(get_task("gmm-64"), get_task("gmm-64").mod).ok


def test_env_and_search_give_one_candidate_the_same_reward_and_record(fake_measurer):
    from msgym.search import SearchStrategy, tune
    from msgym.space import Candidate

    env = ScheduleEnv(task="gmm-64", measurer=fake_measurer)
    reward, info, _ = run_episode(env, np.random.default_rng(7), seed=3)
    env.close()

    class Replay(SearchStrategy):
        name = "replay"

        def propose(self, n):
            return [Candidate.of(info["space"], info["decisions"])]

    result = tune("gmm-64", Replay(), trials=1, seed=3, progress=False, measurer=fake_measurer)
    record = result.best.to_json()
    assert record["reward"] == reward == info["record"]["reward"]
    assert {k: v for k, v in record.items() if k != "wall_s"} == {
        k: v for k, v in info["record"].items() if k != "wall_s"
    }


def test_actions_are_integers_or_a_clear_error():
    env = ScheduleEnv(task="gmm-64", observation="context")
    env.reset(seed=0)
    for bad in (2.7, "1", True, np.array([1, 2]), np.float64("nan"), np.array(1.0)):
        with pytest.raises(TypeError, match="an action is an integer index"):
            env.step(bad)
    assert env._steps == 0  # nothing happened
    valid = int(np.flatnonzero(env.action_masks())[0])
    for good in (valid, np.int64(valid), np.array(valid)):
        env.reset(seed=0)
        env.step(good)
    env.close()


def test_a_symbolic_shape_is_refused_when_the_task_is_made():
    from conftest import DATA

    from msgym.tasks import TaskError

    with pytest.raises(TaskError, match=r"parameter A has symbolic dimension\(s\) n .*static shapes only"):
        ScheduleEnv(task=f"{DATA / 'kernels.py'}:dynamic_rows")
