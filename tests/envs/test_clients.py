"""The environments under the clients researchers already use: SB3 (make_vec_env, VecNormalize,
Monitor, MaskablePPO with its eval callback, evaluate_policy with masks) and Gymnasium's vector
envs and wrappers, as their documentation shows them. Latencies from the fake runner."""

import gymnasium as gym
import numpy as np
import pytest

import msgym  # noqa: F401  (registers the environments)

ENV_ID = "msgym/ScheduleContext-v0"


@pytest.fixture
def env_kwargs(fake_settings):
    return {"task": "gmm-64", "measurer": fake_settings}


@pytest.mark.parametrize("vec", ["dummy", "subproc"])
def test_sb3_make_vec_env_with_its_defaults(vec, env_kwargs):
    """SB3 asks for render_mode="rgb_array" by default: the env supports it."""
    from sb3_contrib.common.maskable.utils import get_action_masks
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    venv = make_vec_env(
        ENV_ID, n_envs=2, env_kwargs=env_kwargs, vec_env_cls=SubprocVecEnv if vec == "subproc" else DummyVecEnv
    )
    venv = VecNormalize(venv, norm_reward=False)
    try:
        venv.seed(0)
        venv.reset()
        finished = []
        for _ in range(40):
            masks = get_action_masks(venv)
            actions = [int(np.flatnonzero(m)[0]) for m in masks]
            _, _, dones, infos = venv.step(actions)
            finished += [info["episode"]["r"] for info, done in zip(infos, dones) if done]  # Monitor's record
        assert finished and all(np.isfinite(finished))
        frames = venv.get_images()  # what VecVideoRecorder records
        assert all(f.ndim == 3 and f.shape[2] == 3 and f.dtype == np.uint8 and f.std() > 0 for f in frames)
    finally:
        venv.close()


def test_maskable_ppo_learns_with_its_eval_callback_and_evaluates_with_masks(tmp_path, env_kwargs):
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback
    from sb3_contrib.common.maskable.evaluation import evaluate_policy
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.logger import configure

    venv = make_vec_env(ENV_ID, n_envs=2, env_kwargs=env_kwargs, seed=0)
    eval_env = make_vec_env(ENV_ID, n_envs=1, env_kwargs=env_kwargs, seed=1)
    try:
        model = MaskablePPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu")
        callback = MaskableEvalCallback(eval_env, eval_freq=16, n_eval_episodes=2, log_path=str(tmp_path))
        model.set_logger(configure(str(tmp_path / "sb3"), ["csv"]))  # not SB3's default folder in /tmp
        model.learn(64, callback=callback)
        assert (tmp_path / "evaluations.npz").is_file()
        mean, std = evaluate_policy(model, eval_env, n_eval_episodes=3, use_masking=True)
        assert np.isfinite(mean) and np.isfinite(std)
    finally:
        venv.close()
        eval_env.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_gymnasium_make_vec_and_wrappers(mode, env_kwargs):
    envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode=mode, **env_kwargs)
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    try:
        envs.reset(seed=0)
        episodes = 0
        for _ in range(40):
            masks = np.stack(envs.unwrapped.call("action_masks"))
            # An env whose episode just ended has no valid action: its next step is Gymnasium's
            # autoreset, which ignores the action.
            actions = [int(np.flatnonzero(m)[0]) if m.any() else 0 for m in masks]
            _, _, terminated, truncated, infos = envs.step(np.array(actions))
            episodes += int(np.sum(terminated | truncated))
        assert episodes > 0
    finally:
        envs.close()
    env = gym.wrappers.NormalizeObservation(gym.make(ENV_ID, render_mode="rgb_array", **env_kwargs))
    env = gym.wrappers.RenderCollection(env)
    env.reset(seed=0)
    while True:
        mask = env.get_wrapper_attr("action_masks")()
        _, _, terminated, _, _ = env.step(int(np.flatnonzero(mask)[-1]))
        if terminated:
            break
    frames = env.render()
    assert len(frames) >= 2 and frames[-1].shape == frames[0].shape and frames[-1].shape[2] == 3
    env.close()


def test_render_modes(fake_settings):
    import warnings

    from gymnasium.utils.env_checker import check_env

    from msgym.envs.schedule_env import ScheduleEnv

    assert ScheduleEnv.metadata["render_modes"] == ["ansi", "rgb_array"]  # what check_env renders below
    for mode in ScheduleEnv.metadata["render_modes"]:
        env = gym.make(ENV_ID, task="gmm-64", render_mode=mode, measurer=fake_settings)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped)  # renders in each mode too (it remakes the env from its spec)
        assert [str(w.message) for w in caught] == []
        env.close()
    with pytest.raises(ValueError, match="unknown render_mode 'human'.*rgb_array"):
        ScheduleEnv(task="gmm-64", render_mode="human")
    assert ScheduleEnv(task="gmm-64").render() is None


def test_rl_zoo_trains_and_saves_like_any_zoo_env(tmp_path, monkeypatch, fake_settings):
    """rl-baselines3-zoo's train, as its README runs it, with the hyperparameters msgym ships."""
    pytest.importorskip("rl_zoo3")
    from msgym import zoo

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))  # SB3's default log folder (the zoo sets none)
    kwargs = ["task:'gmm-64'", f"measurer:dict(runner='fake', store={fake_settings.store!r})"]
    monkeypatch.setattr(
        "sys.argv",
        [
            "train.py",
            "--algo",
            "ppo_mask",
            "--env",
            ENV_ID,
            "--gym-packages",
            "msgym",
            "-conf",
            "msgym.zoo",
            "--env-kwargs",
            *kwargs,
            "-n",
            "64",
            "--eval-freq",
            "32",
            "--eval-episodes",
            "1",
            "-f",
            "logs",
            "--seed",
            "0",
        ],
    )
    zoo.main()
    run = tmp_path / "logs" / "ppo_mask" / "msgym-ScheduleContext-v0_1"
    assert (run / "msgym-ScheduleContext-v0.zip").is_file() and (run / "evaluations.npz").is_file()
    assert set(zoo.hyperparams) == {i for i in msgym.ENV_IDS if "Predicted" not in i}
    assert zoo.hyperparams[ENV_ID]["n_steps"] == 128  # msgym train's measured block, read from its config
