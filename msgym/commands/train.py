"""``msgym train``: one MaskablePPO policy over many tasks (a task drawn per episode).

Rewards are measured (through the measurement layer; parallel environments share results
through its record store) or predicted by the MLP cost model (cheap pretraining); the two are
logged apart (run folders ``train__<reward>__...``, scalars ``measured/*`` or ``predicted/*``).
Hyperparameters come from ``msgym/commands/configs/ppo.yaml`` (package data; one block per reward kind) and
``--hp KEY=VALUE`` overrides. Checkpoints are written every ``checkpoint_every`` timesteps;
``resume=RUN_DIR`` continues from the last one, keeping the timestep count. The saved policy has
a ``.json`` beside it: tasks, reward, hyperparameters, command, machine, date, and the
observation encoding, which loading checks.
"""

from __future__ import annotations

import datetime
import json
import math
import platform
import re
import time
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback

from msgym.commands import CONFIG_DIR
from msgym.policies import N_ACTIONS, check_policy, trust, write_metadata
from msgym.search import command_line
from msgym.tasks import get_task
from msgym.tasks.sets import resolve

CONFIG = CONFIG_DIR / "ppo.yaml"
REWARDS = {"measured": "log_speedup", "predicted": "predicted_log_speedup"}
PPO_KEYS = ("n_steps", "batch_size", "n_epochs", "learning_rate", "ent_coef", "gamma", "gae_lambda", "clip_range")


def hyperparameters(reward: str, config: "str | Path | None" = None, overrides: dict | None = None) -> dict:
    import yaml

    path = Path(config or CONFIG)
    if not path.is_file():
        raise ValueError(f"no hyperparameter file {path}")
    blocks = yaml.safe_load(path.read_text()) or {}
    if reward not in blocks:
        raise ValueError(f"{path} has no block for reward {reward!r} (blocks: {', '.join(blocks)})")
    hp = dict(blocks[reward])
    unknown = set(overrides or {}) - set(hp)
    if unknown:
        raise ValueError(f"unknown hyperparameters {sorted(unknown)}; known: {', '.join(hp)}")
    hp.update(overrides or {})
    return hp


def make_env(
    tasks: list[str],
    reward: str,
    cost_model: str | None,
    seed: int,
    rank: int,
    runner: str = "local",
    target: "str | None" = None,
    space: str = "default",
):
    def init():
        from msgym.envs.schedule_env import ScheduleEnv
        from msgym.measure import MeasurerSettings

        # Each env makes its own measurer (in its own process with n_envs > 1), on the shared store.
        env = ScheduleEnv(
            tasks,
            reward=REWARDS[reward],
            cost_model=cost_model,
            n_actions=N_ACTIONS,
            measurer=MeasurerSettings(runner=runner),
            target=target,
            space=space,
        )
        env.reset(seed=seed + rank)
        return env

    return init


def train(
    tasks: "str | list[str]",
    timesteps: int,
    n_envs: int = 1,
    reward: str = "measured",
    cost_model: str | None = None,
    logdir: str = "runs",
    save: str | None = None,
    seed: int = 0,
    config: str | None = None,
    overrides: dict | None = None,
    init: str | None = None,
    resume: str | None = None,
    trust_policy: bool = False,
    progress: bool = True,
    runner: str = "local",
    target: "str | None" = None,
    space: str = "default",
) -> dict[str, Any]:
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.callbacks import CallbackList
    from stable_baselines3.common.logger import configure
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    if reward not in REWARDS:
        raise ValueError(f"unknown reward {reward!r}; choose measured or predicted")
    if reward == "predicted" and not cost_model:
        raise ValueError("--reward predicted needs --cost-model PATH.pt (msgym costmodel train --save)")
    if not isinstance(timesteps, int) or timesteps < 1 or n_envs < 1:
        raise ValueError(f"timesteps and n_envs must be positive integers, got {timesteps}, {n_envs}")
    from msgym.measure.runners import create as create_runner

    create_runner(runner).check()  # a bad runner fails here, not in every environment's process
    names = resolve(tasks)
    for name in names:
        get_task(name, target, space)  # unknown tasks (or a target this machine lacks) fail before anything starts
    hp = hyperparameters(reward, config, overrides)
    run_dir = (
        Path(resume) if resume else Path(logdir) / f"train__{reward}__seed{seed}__{time.strftime('%Y%m%d-%H%M%S')}"
    )
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    if not resume:
        (run_dir / "config.json").write_text(
            json.dumps(
                {
                    "tasks": names,
                    "reward": reward,
                    "cost_model": cost_model,
                    "seed": seed,
                    "n_envs": n_envs,
                    "timesteps": timesteps,
                    "hyperparameters": hp,
                    "init": init,
                    "target": target,
                    "space": space,
                },
                indent=1,
            )
        )
    with open(run_dir / "command.txt", "a") as f:
        f.write(command_line() + "\n")
    start = _latest_checkpoint(run_dir) if resume else init
    if resume and start is None:
        raise ValueError(f"nothing to resume in {run_dir}: no checkpoints/ppo_*_steps.zip")
    if start:
        check_policy(start, trusted=trust_policy)

    factories = [make_env(names, reward, cost_model, seed, i, runner, target, space) for i in range(n_envs)]
    venv = VecMonitor(SubprocVecEnv(factories) if n_envs > 1 else DummyVecEnv(factories))
    ppo_kwargs = {k: hp[k] for k in PPO_KEYS if k in hp}
    if start:
        # Resuming keeps the run's own settings; starting from another policy (--init) applies this
        # run's hyperparameters (SB3's load sets them before rebuilding the rollout buffer).
        model = MaskablePPO.load(start, env=venv, device="cpu", **({} if resume else ppo_kwargs))
        if not resume:
            model.set_random_seed(seed)
    else:
        model = MaskablePPO(
            "MlpPolicy",
            venv,
            device="cpu",
            seed=seed,
            verbose=0,
            policy_kwargs={"net_arch": list(hp["net_arch"])},
            **ppo_kwargs,
        )
    model.set_logger(configure(str(run_dir), ["tensorboard", "csv"]))
    done = model.num_timesteps if resume else 0
    callbacks = CallbackList(
        [
            RecordedCheckpoints(
                save_freq=max(1, hp["checkpoint_every"] // n_envs),
                save_path=str(run_dir / "checkpoints"),
                name_prefix="ppo",
            ),
            TaskStats(reward),
            ProgressBar(timesteps, done, progress),
        ]
    )
    t0 = time.perf_counter()
    try:
        model.learn(total_timesteps=max(0, timesteps - done), reset_num_timesteps=not resume, callback=callbacks)
    finally:
        model.logger.close()  # its CSV and TensorBoard files
    wall = time.perf_counter() - t0
    venv.close()
    save = save or str(run_dir / "policy.zip")
    model.save(save)
    meta = {
        "tasks": names,
        "reward": reward,
        "cost_model": cost_model,
        "timesteps": int(model.num_timesteps),
        "seed": seed,
        "hyperparameters": hp,
        "init": init,
        "command": command_line(),
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}",
        "date": datetime.date.today().isoformat(),
        "train_wall_s": wall,
        "run_dir": str(run_dir),
    }
    write_metadata(save, meta)
    return {**json.loads(Path(save).with_suffix(".json").read_text()), "policy": save}


def _latest_checkpoint(run_dir: Path) -> str | None:
    found = [
        (int(m.group(1)), p)
        for p in (run_dir / "checkpoints").glob("ppo_*_steps.zip")
        if (m := re.search(r"ppo_(\d+)_steps", p.name))
    ]
    return str(max(found)[1]) if found else None


class RecordedCheckpoints(CheckpointCallback):
    """SB3's checkpoints, each one's hash recorded as written by msgym before it appears under its
    name (so ``--resume`` trusts every checkpoint it finds, even after a kill, and only those)."""

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            path = Path(self._checkpoint_path(extension="zip"))
            part = path.with_name(f".writing_{path.name}")  # not a checkpoint name until it is trusted
            self.model.save(str(part))
            trust(part)
            part.replace(path)
        return True


class TaskStats(BaseCallback):
    """Per-task best speedup (measured or predicted, never mixed) and episode errors."""

    def __init__(self, reward: str):
        super().__init__()
        self.reward = reward
        self.best: dict[str, float] = {}

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if not done or "task" not in info:
                continue
            speedup = info.get("predicted_speedup" if self.reward == "predicted" else "speedup")
            if speedup is not None and math.isfinite(speedup):
                self.best[info["task"]] = max(self.best.get(info["task"], 0.0), speedup)
                tag = info["task"].replace("/", "_")
                self.logger.record(f"{self.reward}/best_speedup/{tag}", self.best[info["task"]])
        return True


class ProgressBar(BaseCallback):
    def __init__(self, total: int, done: int, enabled: bool):
        super().__init__()
        self.total, self.done, self.enabled = total, done, enabled
        self.bar = None

    def _on_training_start(self) -> None:
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=self.done, desc="train", unit="step")

    def _on_step(self) -> bool:
        if self.bar is not None:
            self.bar.update(self.training_env.num_envs)
        return True

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()
