"""Predict many, measure the best: how the random and evolutionary agents use a cost model."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from msgym.cost_models.base import CostModel
from msgym.cost_models.registry import create
from msgym.space import DesignSpaces

__all__ = ["ModelFilter", "model_filter"]


def model_filter(
    kind: "str | CostModel | None", context: Any, rng: random.Random, pool_factor: int
) -> "ModelFilter | None":
    """The agents' ``cost_model=`` option as a ModelFilter for this search (None: no model)."""
    model = create(kind)
    return None if model is None else ModelFilter(model, context.spaces, context.baseline_s, rng, pool_factor)


class ModelFilter:
    """Predict many, measure the best: picks ``n`` of a pool of proposals by predicted score (an
    ``epsilon`` share at random, so the model also sees what it does not favour), and learns
    from every measured result. Used by the random and evolutionary agents (``cost_model=``)."""

    def __init__(
        self,
        model: CostModel,
        spaces: DesignSpaces,
        baseline_s: float,
        rng: random.Random,
        pool_factor: int = 8,
        epsilon: float = 0.1,
    ):
        self.model, self.spaces, self.baseline_s, self.rng = model, spaces, baseline_s, rng
        self.pool_factor, self.epsilon = pool_factor, epsilon
        self.learned = 0

    def choose(self, generate: Any, n: int) -> tuple[list, set]:
        """Draw ``pool_factor * n`` proposals from ``generate(k)`` and keep ``n`` of them; returns
        (the chosen, the passed over), so an agent can let the passed-over ones come again."""
        pool = generate(n * self.pool_factor)
        chosen = self.pick(pool, n)
        return chosen, set(pool) - set(chosen)

    def pick(self, pool: list, n: int) -> list:
        if len(pool) <= n:
            return pool
        scores = self.model.predict(self.spaces, [(c.space, c.decision_list()) for c in pool])
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        n_random = sum(self.rng.random() < self.epsilon for _ in range(n))
        chosen = order[: n - n_random]
        rest = order[n - n_random :]
        chosen += self.rng.sample(rest, n_random)
        return [pool[i] for i in chosen]

    def learn(self, candidates: list, results: list) -> None:
        self.model.update(
            self.spaces,
            [(c.space, c.decision_list()) for c in candidates],
            [r.latency_s if r.ok else None for r in results],
            self.baseline_s,
        )
        self.learned += len(candidates)
