"""PPO acting in the msgym environment, learning online from the measured rewards of the search.

sb3-contrib's MaskablePPO steps a ``ScheduleEnv`` of the task (one action per decision, invalid
actions masked); each episode that ends on a new candidate is a proposal of this strategy, and
its measured log speedup the episode's reward (see ``msgym.loop_measurer``). Repeated candidates
are rewarded from memory without using the budget. Training scalars (``train/*``,
``rollout/ep_rew_mean``) go to the run's TensorBoard folder, and the policy is saved there as
``policy.zip`` at the end; ``policy=PATH`` starts from a saved policy (``msgym tune`` or
``msgym train``), on any task: the observation and action encodings do not depend on the task.
A loaded policy keeps its own PPO hyperparameters. ``learn=False`` only samples from the policy.
A policy file runs code when loaded, so only one msgym wrote on this machine, or one it ships,
is loaded unless ``trust_policy=True`` (see ``msgym.policies``).

SB3 draws from the process-wide random generators (Python, NumPy, torch) and has no generator of
its own to pass; so this agent swaps its own state of them in while its thread runs and out when
control returns to the search loop: two PPO agents in one process (whole-model tuning), or other
code between steps, do not change its proposals (same seed, same results, same proposals).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path

from msgym.envs.schedule_env import ScheduleEnv
from msgym.policies import check_policy, write_metadata
from msgym.search import Candidate, SearchContext, SearchStrategy
from msgym.search.loop_measurer import LoopMeasurer


class PPOSearch(SearchStrategy):
    name = "ppo"

    def __init__(
        self,
        policy: "str | None" = None,
        observation: str = "features",
        n_steps: int = 64,
        batch_size: int = 32,
        n_epochs: int = 4,
        learning_rate: float = 3e-4,
        ent_coef: float = 0.01,
        gamma: float = 1.0,
        max_repeats: int = 32,
        learn: bool = True,
        trust_policy: bool = False,
    ):
        if policy is not None:
            # Refuses a missing file, one made for another observation encoding, and an untrusted one.
            check_policy(policy, trusted=trust_policy)
        self.policy, self.learn = policy, learn
        self.options = dict(
            observation=observation,
            n_steps=n_steps,
            batch_size=batch_size,
            n_epochs=n_epochs,
            learning_rate=learning_rate,
            ent_coef=ent_coef,
            gamma=gamma,
            max_repeats=max_repeats,
        )
        self.model = None
        self._random_state: tuple | None = None  # SB3's stream of the global generators (see the docstring)

    def hparams(self) -> dict:
        return {"policy": self.policy or "new", "learn": self.learn, **self.options}

    def setup(self, context: SearchContext) -> None:
        from sb3_contrib import MaskablePPO

        super().setup(context)
        opts = dict(self.options)
        self.loop = LoopMeasurer(context.baseline_s, opts.pop("max_repeats"))
        self.env = ScheduleEnv(context.task, observation=opts.pop("observation"), measurer=self.loop)
        self.rng = random.Random(self.seed)
        with self._own_random_state():  # SB3 seeds the global generators: the agent's, not the caller's
            if self.policy is not None:
                try:
                    self.model = MaskablePPO.load(self.policy, env=self.env, device="cpu")
                except ValueError as err:  # SB3: the policy's observation or action space differs from the env's
                    raise ValueError(f"policy {self.policy} does not fit this environment: {err}") from err
                self.model.set_random_seed(self.seed)
            else:
                self.model = MaskablePPO("MlpPolicy", self.env, device="cpu", seed=self.seed, verbose=0, **opts)
        from stable_baselines3.common.logger import Logger, configure

        # No run folder: a logger that writes nothing (SB3's own default makes an empty SB3-<date>
        # folder in the temporary directory at every learn(): 99 of them here after a day of tests).
        logger = configure(str(context.run_dir), ["tensorboard"]) if context.run_dir is not None else Logger(None, [])
        self.model.set_logger(logger)
        self._done = False
        self._request: tuple | None = None  # the agent's next request, once it has made it
        self.fallbacks = 0
        self.loop.start(self._learn if self.learn else self._sample)

    def propose(self, n: int) -> list[Candidate]:
        if self._done:
            return []
        if self._request is None:
            with self._own_random_state():
                self._request = self.loop.step()
        kind, cand = self._request
        self._request = None
        if kind == "done":
            self._done = True
            return []
        if kind == "stalled":
            cand = self._unmeasured_random()
            self.fallbacks += 1
            if cand is None:  # the policy repeats itself and the space looks exhausted
                self._done = True
                return []
        return [cand]

    def observe(self, candidates, results) -> None:
        with self._own_random_state():
            self._request = self.loop.step(candidates, results)

    def scalars(self) -> dict[str, float]:
        return {
            "ppo_repeats": self.loop.repeats,
            "ppo_stalls": self.loop.stalls,
            "ppo_fallbacks": self.fallbacks,
            "ppo_updates": getattr(self.model, "_n_updates", 0),
        }

    def close(self) -> None:
        if self.model is None or not hasattr(self, "loop"):
            return
        self.loop.stop()
        self.env.close()
        if self.context.run_dir is not None:
            self.save(self.context.run_dir / "policy.zip")

    @contextlib.contextmanager
    def _own_random_state(self) -> Iterator[None]:
        """Run with this agent's state of the global generators; the caller's is put back after."""
        import numpy as np
        import torch

        outside = random.getstate(), np.random.get_state(), torch.get_rng_state()
        if self._random_state is not None:
            _set_random_state(self._random_state)
        try:
            yield
        finally:
            self._random_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
            _set_random_state(outside)

    def _learn(self) -> None:
        self.model.learn(total_timesteps=10**12, log_interval=1)

    def _sample(self) -> None:
        """Episodes from the policy as it is (no updates)."""
        while True:
            obs, _ = self.env.reset()
            done = False
            while not done:
                action, _ = self.model.predict(obs, action_masks=self.env.action_masks(), deterministic=False)
                obs, _, done, _, _ = self.env.step(int(action))

    def save(self, path: "str | Path") -> None:
        """The policy, loadable with ``policy=PATH`` on any task (its hash recorded as msgym's)."""
        self.model.save(str(path))
        write_metadata(
            path,
            {"agent": self.name, "task": self.context.task.spec, "seed": self.seed, "hyperparameters": self.hparams()},
        )

    def _unmeasured_random(self, attempts: int = 1000) -> Candidate | None:
        for _ in range(attempts):
            walk = self.spaces.sample(self.rng)
            cand = None if walk is None else Candidate.of(*walk)
            if cand is not None and cand not in self.loop.memory:
                return cand
        return None


def _set_random_state(state: tuple) -> None:
    import numpy as np
    import torch

    random.setstate(state[0])
    np.random.set_state(state[1])
    torch.set_rng_state(state[2])
