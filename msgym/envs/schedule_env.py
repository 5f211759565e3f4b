"""The Gymnasium environment: every MetaSchedule trace decision is a step.

An episode walks one design space of a task (first choosing the space when the task has several),
one sub-step at a time (see ``msgym.decisions``), then builds the program, checks its output and
times it; the reward comes at the last step (``outcome``). Actions index the valid options of the
pending sub-step (``actions``: paging when there are more options than actions, wrapping of
masked-out actions); sub-steps with a single option are taken automatically (an episode always
has at least one step). Observations: ``observations``.

Measurements go through the ``measurer`` given, or through one the env makes on first use (the
default record store in the cache folder) and closes in ``close()``.
"""

from __future__ import annotations

import collections
import time
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import EzPickle

from msgym.envs import observations, render
from msgym.envs.actions import ActionPager, as_action
from msgym.envs.outcome import Outcome, measure_candidates, outcome, predicted_outcome
from msgym.envs.records import EpisodeRecord
from msgym.envs.rewards import reward_space
from msgym.lru import LRU
from msgym.measure import Measurer, MeasureResult, MeasurerSettings
from msgym.space import Rollout, design_spaces, freeze_decisions
from msgym.tasks import Task, get_task

OBSERVATIONS = ("features", "context")


class ScheduleEnv(gym.Env, EzPickle):
    """Schedule a task's tensor program decision by decision; rewarded by measured speed."""

    metadata = {"render_modes": list(render.RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        task: "str | Task | list[str | Task]" = "gmm-512",
        target: "str | dict | None" = None,
        reward: str = "log_speedup",
        observation: str = "features",
        n_actions: int = 32,
        skip_forced: bool = True,
        render_mode: str | None = None,
        measurer: "Measurer | MeasurerSettings | dict | None" = None,
        cost_model: "str | Any" = None,
        space: str | None = None,
    ):
        if isinstance(measurer, dict):  # e.g. from a command line: --env-kwargs measurer:"dict(runner='fake')"
            measurer = MeasurerSettings.from_dict(measurer)
        # A copy in another process (SubprocVecEnv, pickling) gets a measurer of its own with the
        # same settings and store: measurements are shared through the store, not the workers.
        settings = measurer.settings() if hasattr(measurer, "settings") else measurer
        EzPickle.__init__(
            self,
            task,
            target,
            reward,
            observation,
            n_actions,
            skip_forced,
            render_mode,
            settings if isinstance(settings, MeasurerSettings) else None,
            cost_model if isinstance(cost_model, str) or cost_model is None else None,
            space,
        )
        if observation not in OBSERVATIONS:
            raise ValueError(f"unknown observation {observation!r}; choose one of {', '.join(OBSERVATIONS)}")
        if not isinstance(n_actions, int) or n_actions < 2:
            raise ValueError(f"n_actions must be an int >= 2, got {n_actions!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r}; choose one of {self.metadata['render_modes']}")
        self.target = target
        self.space = space  # design space: "default" (MetaSchedule's) or "extended"; None: each task's own
        self.reward_space = reward_space(reward)
        self.cost_model = None
        if self.reward_space.predicted:
            if cost_model is None:
                raise ValueError(
                    f"reward {self.reward_space.name!r} needs cost_model= a saved MLP (.pt, from "
                    "msgym costmodel train --save) or an MLPCostModel"
                )
            from msgym.cost_models import create as create_cost_model

            self.cost_model = create_cost_model(cost_model)
        self.observation = observation
        self.n_actions = n_actions
        self.skip_forced = skip_forced
        self.render_mode = render_mode
        self._measurer = measurer if measurer is not None and not isinstance(measurer, MeasurerSettings) else None
        self._measurer_settings = measurer if isinstance(measurer, MeasurerSettings) else MeasurerSettings()
        self._owns_measurer = self._measurer is None
        self.pager = ActionPager(n_actions)
        self.action_space = gym.spaces.Discrete(n_actions)
        size = observations.observation_size(n_actions)
        self.observation_space = gym.spaces.Box(
            -observations.BOUND, observations.BOUND, shape=(size,), dtype=np.float32
        )
        self.rollout: Rollout | None = None
        self.record: EpisodeRecord | None = None
        self._feature_cache: LRU = LRU(8192)
        self._episode_rewards: collections.deque = collections.deque(maxlen=1000)  # for rgb_array frames
        # Several tasks: each episode draws one (seeded by reset), so one policy learns across tasks.
        self.task_pool = list(task) if isinstance(task, (list, tuple)) else [task]
        if not self.task_pool:
            raise ValueError("task is an empty list; give at least one task")
        self._set_task(self.task_pool[0])

    @property
    def measurer(self) -> Any:
        """The measurer in use; the env makes its own (and closes it) if none was given."""
        if self._measurer is None:
            self._measurer = Measurer.from_settings(self._measurer_settings)
        return self._measurer

    # ------------------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and "task" in options:
            self._set_task(options["task"])
        elif len(self.task_pool) > 1:
            self._set_task(self.task_pool[int(self.np_random.integers(len(self.task_pool)))])
        if self.rollout is not None:
            self.rollout.close()
        self._seed = seed
        self._start = time.perf_counter()
        self._steps = 0
        self.pager.reset()
        self.record = None
        self.rollout = self.spaces.rollout()
        forced = self._skip_forced()
        if self.rollout.done:  # every choice was forced: keep the last one as the episode's step
            self.rollout.close()
            self.rollout = self.spaces.rollout()
            for _ in range(forced - 1):
                self.rollout.choose(self.rollout.options()[0])
        return self._observe(), {"task": self.task.name, "n_spaces": len(self.spaces)}

    def step(self, action):
        action = as_action(action)  # refuses a float, string or array before anything changes
        if self.rollout is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self.rollout.done:
            raise gym.error.ResetNeeded("the episode is over; call reset()")
        options = self.rollout.options()
        self._steps += 1
        info: dict[str, Any] = {"kind": self.rollout.spec.kind}
        _, info["action_wrapped"], index = self.pager.take(action, len(options))
        if index is not None:
            self.rollout.choose(options[index])
            self._skip_forced()
        if not self.rollout.done:
            return self._observe(), 0.0, False, False, info
        reward, info = self._finish(info)
        return self._observe(), reward, True, False, info

    def action_masks(self) -> np.ndarray:
        """Valid actions of the pending sub-step (sb3-contrib MaskablePPO's contract)."""
        mask = np.zeros(self.n_actions, dtype=bool)
        if self.rollout is not None and not self.rollout.done:
            mask[self.pager.valid_actions(len(self.rollout.options()))] = True
        return mask

    def render(self) -> "str | np.ndarray | None":
        """``ansi``: the state and the program as text; ``rgb_array``: a picture of the state and of
        the rewards of this env's episodes (see ``render``); no render mode: None."""
        if self.render_mode == "ansi":
            return render.ansi(self)
        if self.render_mode == "rgb_array":
            return render.rgb_array(self, list(self._episode_rewards))
        return None

    def close(self) -> None:
        if self.rollout is not None:
            self.rollout.close()
            self.rollout = None
        if self._owns_measurer and self._measurer is not None:
            self._measurer.close()
            self._measurer = None

    # ------------------------------------------------------------------------------ internals
    def _set_task(self, task: "str | Task") -> None:
        task = get_task(task, self.target, self.space)
        if getattr(self, "task", None) is task:
            return
        self.task = task
        self.spaces = design_spaces(self.task)

    def _skip_forced(self) -> int:
        """Take every sub-step that has a single option; return how many were taken."""
        taken = 0
        while self.skip_forced and not self.rollout.done and len(self.rollout.options()) == 1:
            self.rollout.choose(self.rollout.options()[0])
            taken += 1
        return taken

    def _finish(self, info: dict) -> tuple[float, dict]:
        ro, task = self.rollout, self.task
        wall_s = time.perf_counter() - self._start
        if self.reward_space.predicted:
            predicted = None
            if ro.error is None:
                predicted = float(self.cost_model.predict(self.spaces, [(ro.space, ro.decisions)])[0])
            result: Outcome = predicted_outcome(
                task, ro.space, ro.decisions, predicted, ro.error, self.reward_space, self._seed, wall_s
            )
            info.update(predicted=True, predicted_speedup=result.predicted_speedup)
        else:
            measured = (
                MeasureResult(error=ro.error)
                if ro.error is not None
                else measure_candidates(self.measurer, self.spaces, [(ro.space, ro.decisions)])[0]
            )
            baseline = self.measurer.baseline(task).latency_s if measured.ok else float("nan")
            result = outcome(task, ro.space, ro.decisions, measured, baseline, self.reward_space, self._seed, wall_s)
            info.update(cv=measured.cv if ro.error is None else None, latency_ci95=measured.ci95)
        self.record = result.record
        self._episode_rewards.append(result.reward)
        info.update(
            task=task.name,
            space=ro.space,
            decisions=ro.decisions,
            error=result.record.error,
            latency_s=result.record.latency_s,
            speedup=result.speedup,
            gflops=result.gflops,
            steps=self._steps,
            record=self.record.to_json(),
        )
        return result.reward, info

    # ------------------------------------------------------------------------------ observations
    def _observe(self) -> np.ndarray:
        ro = self.rollout
        n_options = len(ro.options()) if not ro.done else 1
        context = observations.context_vector(
            ro,
            len(self.spaces),
            self.spaces.n_decisions(ro.space) if ro.space is not None else 1,
            n_options,
            self.pager.level_fraction(n_options) if not ro.done else 0.0,
        )
        labels = [] if ro.done else self.pager.slot_labels(ro.spec.option_labels(ro.options()))
        return observations.assemble(self._program_features(), context, labels, self.action_masks())

    def _program_features(self) -> np.ndarray:
        if self.observation != "features":
            return np.zeros(observations.PROGRAM_DIM, dtype=np.float32)
        ro = self.rollout
        key = (self.task.key, ro.space, freeze_decisions(ro.decisions))
        cached = self._feature_cache.get(key)
        if cached is None:
            sch = ro.live if ro.live is not None else self.spaces.unscheduled
            cached = self._feature_cache.put(
                key, observations.clean(self.spaces.features.aggregate(self.spaces.context, sch))
            )
        return cached
