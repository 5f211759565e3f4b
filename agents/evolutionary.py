"""Evolutionary search over decision sequences (MetaSchedule's own search, without a cost model).

The first ``population`` proposals are uniform random walks. After that each child comes from a
parent picked by tournament among the measured candidates (lower latency wins): with probability
``crossover_prob`` it takes a prefix of its decisions and the rest from a second parent of the
same design space, then one decision is re-drawn (mutation). Children are completed with
``DesignSpaces.sample(preferred=...)``, which keeps every inherited decision that is still valid
and re-draws the rest, so every child is a valid point of the design space; a walk whose program
a postprocessor rejects (most on a GPU) is drawn again, never proposed. A candidate is never
proposed twice.

With ``cost_model`` (mlp, xgb or a saved MLP), each batch of children is picked from
``pool_factor`` times as many by predicted score (MetaSchedule's idea: the model decides which
children deserve a measurement), and the model learns from every measured result.
"""

from __future__ import annotations

import random

from msgym import cost_models
from msgym.cost_models.model_filter import model_filter
from msgym.measure import MeasureResult
from msgym.search import Candidate, SearchContext, SearchStrategy
from msgym.search.strategy import new_walks


class EvolutionarySearch(SearchStrategy):
    name = "evolutionary"

    def __init__(
        self,
        population: int = 16,
        tournament: int = 3,
        crossover_prob: float = 0.5,
        max_attempts: int = 1000,
        cost_model: str = "none",
        pool_factor: int = 8,
    ):
        if population < 2 or tournament < 1:
            raise ValueError(f"population must be >= 2 and tournament >= 1, got {population}, {tournament}")
        self.population, self.tournament = population, tournament
        self.crossover_prob, self.max_attempts = crossover_prob, max_attempts
        cost_models.validate(cost_model)
        self.cost_model, self.pool_factor = cost_model, pool_factor

    def setup(self, context: SearchContext) -> None:
        super().setup(context)
        self.rng = random.Random(self.seed)
        self.seen: set[Candidate] = set()
        self.scored: list[tuple[float, Candidate]] = []  # measured successfully: (latency, candidate)
        self.proposed = 0
        self.filter = model_filter(self.cost_model, context, self.rng, self.pool_factor)

    def hparams(self) -> dict:
        return {
            "population": self.population,
            "tournament": self.tournament,
            "crossover_prob": self.crossover_prob,
            "cost_model": self.cost_model,
            "pool_factor": self.pool_factor,
        }

    def observe(self, candidates: list[Candidate], results: list[MeasureResult]) -> None:
        for cand, result in zip(candidates, results):
            if result.ok:
                self.scored.append((result.latency_s, cand))
        if self.filter is not None:
            self.filter.learn(candidates, results)

    def propose(self, n: int) -> list[Candidate]:
        if self.filter is None or self.proposed < self.population:
            return self._generate(n)
        chosen, passed_over = self.filter.choose(self._generate, n)
        self.seen -= passed_over  # children not measured may be bred again
        self.proposed -= len(passed_over)
        return chosen

    def _generate(self, n: int) -> list[Candidate]:
        breed = len(self.scored) >= min(self.population, 2) and self.proposed >= self.population
        draw = self._child if breed else lambda: (None, None)
        out = new_walks(self.spaces, draw, n, self.seen, self.rng, self.context.threads, self.max_attempts)
        self.proposed += len(out)
        return out

    def _select(self) -> Candidate:
        pool = self.rng.sample(self.scored, min(self.tournament, len(self.scored)))
        return min(pool, key=lambda pair: pair[0])[1]

    def _child(self) -> "tuple[int, list]":
        """A child's design space and the decisions it inherits (None: re-drawn)."""
        parent = self._select()
        genes = parent.decision_list()
        if len(genes) > 1 and self.rng.random() < self.crossover_prob:
            other = self._select()
            if other.space == parent.space and other != parent:
                cut = self.rng.randrange(1, len(genes))
                genes = genes[:cut] + other.decision_list()[cut:]
        if genes:
            genes[self.rng.randrange(len(genes))] = None  # mutation: re-drawn uniformly
        return parent.space, genes
