"""Uniform random search over valid decisions, never proposing a candidate twice."""

from __future__ import annotations

import random

from msgym.search import Candidate, SearchContext, SearchStrategy


class Strategy(SearchStrategy):
    name = "random"

    def __init__(self, max_attempts: int = 1000):
        self.max_attempts = max_attempts  # give up once this many walks in a row were all repeats

    def setup(self, context: SearchContext) -> None:
        super().setup(context)
        self.rng = random.Random(self.seed)
        self.seen: set[Candidate] = set()

    def sample(self) -> Candidate | None:
        """One walk: at every sub-step a valid option, uniformly (None if TVM's replay failed)."""
        walk = self.spaces.sample(self.rng)
        return None if walk is None else Candidate.of(*walk)

    def propose(self, n: int) -> list[Candidate]:
        out: list[Candidate] = []
        misses = 0
        while len(out) < n and misses < self.max_attempts:
            cand = self.sample()
            if cand is None or cand in self.seen:
                misses += 1
                continue
            self.seen.add(cand)
            out.append(cand)
            misses = 0
        return out
