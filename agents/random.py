"""Uniform random search over valid decisions, never proposing a candidate twice.

With ``cost_model`` (mlp, xgb or a saved MLP) it samples ``pool_factor`` times more walks than
it proposes and proposes those the model scores best ("predict many, measure the top-k")."""

from __future__ import annotations

import random

from msgym import cost_models
from msgym.cost_models.model_filter import model_filter
from msgym.search import Candidate, SearchContext, SearchStrategy
from msgym.search.strategy import new_walks


class RandomSearch(SearchStrategy):
    name = "random"

    def __init__(self, max_attempts: int = 1000, cost_model: str = "none", pool_factor: int = 8):
        self.max_attempts = max_attempts  # give up once this many walks in a row were all repeats
        self.cost_model, self.pool_factor = cost_model, pool_factor
        cost_models.validate(cost_model)

    def hparams(self) -> dict:
        return {"cost_model": self.cost_model, "pool_factor": self.pool_factor}

    def setup(self, context: SearchContext) -> None:
        super().setup(context)
        self.rng = random.Random(self.seed)
        self.seen: set[Candidate] = set()
        self.filter = model_filter(self.cost_model, context, self.rng, self.pool_factor)

    def observe(self, candidates, results) -> None:
        if self.filter is not None:
            self.filter.learn(candidates, results)

    def propose(self, n: int) -> list[Candidate]:
        if self.filter is None:
            return self._walks(n)
        chosen, passed_over = self.filter.choose(self._walks, n)
        self.seen -= passed_over  # unproposed walks may come again
        return chosen

    def _walks(self, n: int) -> list[Candidate]:
        """Uniform walks: at every sub-step a valid option, uniformly; a walk whose program TVM's
        replay or a postprocessor rejects is never proposed (it would cost a trial for nothing)."""
        uniform = lambda: (None, None)  # noqa: E731
        return new_walks(self.spaces, uniform, n, self.seen, self.rng, self.context.threads, self.max_attempts)
