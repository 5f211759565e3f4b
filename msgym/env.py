"""The Gymnasium environment: every MetaSchedule trace decision is a step.

An episode walks one design space of a task (first choosing the space when the task has several),
one sub-step at a time (see ``msgym.decisions``), then builds the program, checks its output and
times it; the reward comes at the last step.

Actions are ``Discrete(n_actions)`` indices into the valid options of the pending sub-step, in
ascending order of value; ``action_masks()`` marks them. A sub-step with more options than
``n_actions`` is paged: the action first picks a block of ``n_actions ** (levels - 1)`` options,
then a block within it, down to one option, so no option is ever dropped. Sub-steps with a single
option are taken automatically (except that an episode always has at least one step).

An action outside the mask does not crash the env: it is wrapped to the valid action
``valid[action % len(valid)]`` and ``info["action_wrapped"]`` is True.
"""

from __future__ import annotations

import math
import time
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import EzPickle

from msgym import features
from msgym.decisions import KINDS, DecisionSpec
from msgym.measure import Measurer
from msgym.records import EpisodeRecord
from msgym.rewards import reward_space
from msgym.space import LRU, Rollout, design_spaces, freeze_decisions
from msgym.tasks import Task, get_task

OBSERVATIONS = ("features", "context")
PREDICTED_MAX = math.log(1e4)  # predicted rewards are clipped to [on_error, log 10^4]


class ScheduleEnv(gym.Env, EzPickle):
    """Schedule a task's tensor program decision by decision; rewarded by measured speed."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        task: "str | Task | list[str | Task]" = "gmm-512",
        target: "str | dict | None" = None,
        reward: str = "log_speedup",
        observation: str = "features",
        n_actions: int = 32,
        skip_forced: bool = True,
        render_mode: str | None = None,
        measurer: Measurer | None = None,
        cost_model: "str | Any" = None,
    ):
        EzPickle.__init__(self, task, target, reward, observation, n_actions, skip_forced, render_mode, None,
                          cost_model if isinstance(cost_model, str) or cost_model is None else None)
        if observation not in OBSERVATIONS:
            raise ValueError(f"unknown observation {observation!r}; choose one of {', '.join(OBSERVATIONS)}")
        if not isinstance(n_actions, int) or n_actions < 2:
            raise ValueError(f"n_actions must be an int >= 2, got {n_actions!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r}; choose one of {self.metadata['render_modes']}")
        self.target = target
        self.reward_space = reward_space(reward)
        self.cost_model = None
        if self.reward_space.predicted:
            if cost_model is None:
                raise ValueError(f"reward {self.reward_space.name!r} needs cost_model= a saved MLP (.pt, from "
                                 "msgym costmodel train --save) or an MLPCostModel")
            from msgym.cost_model import create as create_cost_model

            self.cost_model = create_cost_model(cost_model)
        self.observation = observation
        self.n_actions = n_actions
        self.skip_forced = skip_forced
        self.render_mode = render_mode
        self.measurer = measurer or Measurer.shared()
        self.action_space = gym.spaces.Discrete(n_actions)
        size = features.observation_size(n_actions)
        self.observation_space = gym.spaces.Box(-features.BOUND, features.BOUND, shape=(size,), dtype=np.float32)
        self.rollout: Rollout | None = None
        self.record: EpisodeRecord | None = None
        self._feature_cache: LRU = LRU(8192)
        # Several tasks: each episode draws one (seeded by reset), so one policy learns across tasks.
        self.task_pool = list(task) if isinstance(task, (list, tuple)) else [task]
        if not self.task_pool:
            raise ValueError("task is an empty list; give at least one task")
        self._set_task(self.task_pool[0])

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
        self._digits: list[int] = []
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
        if self.rollout is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self.rollout.done:
            raise gym.error.ResetNeeded("the episode is over; call reset()")
        valid = self._valid_actions()
        action = int(action)
        wrapped = action not in valid
        if wrapped:
            action = valid[action % len(valid)]
        self._digits.append(action)
        self._steps += 1
        spec = self.rollout.spec
        info: dict[str, Any] = {"action_wrapped": wrapped, "kind": spec.kind}
        if len(self._digits) == self._levels():
            self.rollout.choose(self._options()[self._page_index()])
            self._digits = []
            self._skip_forced()
        if not self.rollout.done:
            return self._observe(), 0.0, False, False, info
        reward, info = self._finish(info)
        return self._observe(), reward, True, False, info

    def action_masks(self) -> np.ndarray:
        """Valid actions of the pending sub-step (sb3-contrib MaskablePPO's contract)."""
        mask = np.zeros(self.n_actions, dtype=bool)
        if self.rollout is not None and not self.rollout.done:
            mask[self._valid_actions()] = True
        return mask

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        ro = self.rollout
        lines = [f"task {self.task.name}: design space {ro.space if ro and ro.space is not None else '?'} "
                 f"of {len(self.spaces)}; decisions so far {ro.decisions if ro else []}"]
        if ro is not None and not ro.done and ro.spec is not None:
            lines.append(f"pending {ro.spec.kind} sub-step {len(ro.prefix) + 1}/{ro.spec.n_sub_steps} "
                         f"chosen {list(ro.prefix)} options {self._options()}")
        if self.record is not None:
            lines.append(f"result: reward {self.record.reward} latency {self.record.latency_s} error {self.record.error}")
        if ro is not None and ro.live is not None:
            lines.append(ro.live.mod.script())
        else:
            lines.append(self.task.mod.script())
        return "\n".join(lines)

    def close(self) -> None:
        if self.rollout is not None:
            self.rollout.close()
            self.rollout = None

    # ------------------------------------------------------------------------------ internals
    def _set_task(self, task: "str | Task") -> None:
        task = get_task(task, self.target)
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

    def _options(self) -> list[int]:
        return self.rollout.options()

    def _levels(self) -> int:
        """Actions needed to pick one of the pending options (paging when there are many)."""
        return max(1, math.ceil(math.log(len(self._options()), self.n_actions) - 1e-9))

    def _block(self) -> int:
        """How many options each action of the current page level stands for."""
        return self.n_actions ** (self._levels() - len(self._digits) - 1)

    def _page_index(self) -> int:
        index = 0
        for digit in self._digits:
            index = index * self.n_actions + digit
        return index

    def _valid_actions(self) -> list[int]:
        n_opts, block = len(self._options()), self._block()
        start = self._page_index() * self.n_actions * block
        return [a for a in range(self.n_actions) if start + a * block < n_opts]

    def _finish(self, info: dict) -> tuple[float, dict]:
        ro = self.rollout
        error, latency, speedup, reward, result = ro.error, None, None, self.reward_space.on_error, None
        if self.reward_space.predicted:
            return self._finish_predicted(info)
        if error is None:
            result = self.measurer.measure_candidates(self.task, self.spaces, [(ro.space, ro.decisions)])[0]
            error = result.error
        if error is None:
            baseline = self.measurer.baseline(self.task).latency_s
            latency = result.latency_s
            speedup = baseline / latency
            reward = self.reward_space(baseline, latency)
        self.record = EpisodeRecord(
            task=self.task.spec, target=str(self.task.target), space=ro.space, decisions=ro.decisions,
            seed=self._seed, reward_space=self.reward_space.name, reward=reward, latency_s=latency,
            speedup=speedup, error=error, wall_s=time.perf_counter() - self._start,
        )
        info.update(
            task=self.task.name, space=ro.space, decisions=ro.decisions, error=error, latency_s=latency,
            speedup=speedup, gflops=(self.task.flops / latency / 1e9) if latency else 0.0,
            cv=result.cv if result is not None else None, steps=self._steps, record=self.record.to_json(),
        )
        return reward, info

    def _finish_predicted(self, info: dict) -> tuple[float, dict]:
        """The cost model's predicted log speedup; no latency, so it cannot pass for a measurement."""
        ro = self.rollout
        error, reward = ro.error, self.reward_space.on_error
        if error is None:
            predicted = float(self.cost_model.predict(self.spaces, [(ro.space, ro.decisions)])[0])
            if np.isfinite(predicted):
                # A model extrapolating to an unseen task can predict anything: keep rewards sane.
                reward = float(np.clip(predicted, self.reward_space.on_error, PREDICTED_MAX))
            else:
                error = "invalid candidate (postprocessing rejected the program)"
        self.record = EpisodeRecord(
            task=self.task.spec, target=str(self.task.target), space=ro.space, decisions=ro.decisions,
            seed=self._seed, reward_space=self.reward_space.name, reward=reward, error=error,
            wall_s=time.perf_counter() - self._start,
        )
        info.update(task=self.task.name, space=ro.space, decisions=ro.decisions, error=error, latency_s=None,
                    speedup=None, predicted=True, predicted_speedup=math.exp(reward) if error is None else None,
                    steps=self._steps, record=self.record.to_json())
        return reward, info

    # ------------------------------------------------------------------------------ observations
    def _observe(self) -> np.ndarray:
        mask = self.action_masks()
        return features.assemble(self._program_features(), self._context(), self._labels(), mask)

    def _program_features(self) -> np.ndarray:
        if self.observation != "features":
            return np.zeros(features.PROGRAM_DIM, dtype=np.float32)
        ro = self.rollout
        key = (self.task.key, ro.space, freeze_decisions(ro.decisions))
        cached = self._feature_cache.get(key)
        if cached is None:
            sch = ro.live if ro.live is not None else self.spaces.unscheduled
            cached = self._feature_cache.put(key, features.program_features(self.spaces.context, sch))
        return cached

    def _context(self) -> np.ndarray:
        ctx = np.zeros(features.CONTEXT_DIM, dtype=np.float64)
        ro = self.rollout
        ctx[-1] = len(self.spaces) / 16
        if ro.done or ro.spec is None:
            ctx[-2] = 1.0
            return ctx
        spec: DecisionSpec = ro.spec
        n_opts = len(self._options())
        total = self.spaces.n_decisions(ro.space) if ro.space is not None else 1
        ctx[KINDS.index(spec.kind)] = 1.0
        k = len(KINDS)
        ctx[k:k + 7] = [
            ro.decision_index / max(1, total),
            len(ro.prefix) / max(1, spec.n_sub_steps),
            math.log2(1 + spec.extent()),
            math.log2(1 + spec.remaining(ro.prefix)),
            math.log2(1 + n_opts),
            len(self._digits) / self._levels(),
            math.log2(1 + spec.n_sub_steps),
        ]
        return ctx

    def _labels(self) -> list[float]:
        if self.rollout.done:
            return []
        options, block = self._options(), self._block()
        labels = self.rollout.spec.option_labels(options)
        start = self._page_index() * self.n_actions * block
        return [labels[i] for i in range(start, len(options), block)][: self.n_actions]
