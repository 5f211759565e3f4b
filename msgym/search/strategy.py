"""The interface every agent implements: propose candidates, be told their measured results.

A strategy (``agents/<name>.py``) never builds or times a kernel: the search loop (``loop``) owns
the budget, the measurer and the logging.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from msgym.measure import MeasureResult
from msgym.space import Candidate, DesignSpaces
from msgym.tasks import Task

__all__ = ["Candidate", "SearchContext", "SearchStrategy", "new_walks"]


@dataclasses.dataclass(frozen=True)
class SearchContext:
    """What a strategy may know about the search it is part of."""

    spaces: DesignSpaces
    seed: int = 0
    trials: int | None = None  # the budget of measured candidates
    baseline_s: float | None = None  # latency of the unscheduled program (rewards are relative to it)
    run_dir: Path | None = None  # where a strategy may write its own logs and checkpoints
    threads: int = 1  # threads a strategy may use between batches (screening walks: ``new_walks``)

    @property
    def task(self) -> Task:
        return self.spaces.task


class SearchStrategy:
    """Proposes candidates and learns from their measured results.

    ``propose(n)`` returns at most ``n`` candidates (fewer is fine; none means the strategy has
    nothing left to propose); ``observe`` then receives all of their results, in order."""

    name = "base"
    # The design spaces it can search (``Task.space_kind``); given another, a search runs it on the
    # default space (MetaSchedule's own tuner: it is the baseline, and knows only its own rules).
    space_kinds: tuple[str, ...] = ("default", "extended")
    # Candidates the search loop measures at a time when its caller names no batch (None: the loop's
    # own, ``loop.CPU_BATCH`` / ``GPU_BATCH``). A strategy whose proposals do not depend on the results
    # of the same batch (drawn ahead, as MetaSchedule's are) loses nothing to a larger one, and the
    # measurer packs a larger batch's builds better into its two build workers (``Measurer._build_slots``).
    measure_batch: int | None = None

    def setup(self, context: SearchContext) -> None:
        self.context, self.spaces, self.seed = context, context.spaces, context.seed

    def propose(self, n: int) -> list[Candidate]:
        raise NotImplementedError

    def observe(self, candidates: list[Candidate], results: list[MeasureResult]) -> None:
        """Told every measured result of its proposals (default: ignore)."""

    def hparams(self) -> dict[str, Any]:
        """The strategy's settings, logged as TensorBoard hparams and into the run's config."""
        return {}

    def scalars(self) -> dict[str, float]:
        """The strategy's own running figures, logged after every batch as ``agent/<name>``."""
        return {}

    def close(self) -> None:
        """Release what the strategy holds (threads, files); the loop calls it once, at the end."""


def new_walks(
    spaces: DesignSpaces,
    draw: Callable[[], "tuple[int | None, list[Any] | None]"],
    n: int,
    seen: set[Candidate],
    rng: Any,
    threads: int = 1,
    max_attempts: int = 1000,
) -> list[Candidate]:
    """Up to ``n`` valid candidates not in ``seen`` (added to it), from walks that ``draw`` starts:
    (space, preferred decisions), both None for a uniform walk (``DesignSpaces.sample``).

    Walks are screened (replay and postprocessors) in chunks on ``threads`` threads; a chunk is as
    large as the valid share so far says ``n`` needs (at most 64), so on a CPU, where nearly every
    walk is valid, few are wasted, and on a GPU (8% valid) few chunks are needed. Each walk has its
    own seed from ``rng``: the result is the same for any thread count. Stops after ``max_attempts``
    walks in a row gave nothing new (a small space is exhausted)."""
    out: list[Candidate] = []
    misses = tried = found = 0
    while len(out) < n and misses < max_attempts:
        rate = max(found / tried, 1 / 64) if tried else 1.0
        chunk = min(64, max_attempts - misses, max(1, math.ceil((n - len(out)) / rate)))
        attempts = [(*draw(), rng.getrandbits(63)) for _ in range(chunk)]
        for walk in spaces.sample_batch(attempts, threads):
            tried += 1
            cand = None if walk is None else Candidate.of(*walk)
            if cand is None or cand in seen:
                misses += 1
                continue
            found += 1
            if len(out) < n:
                seen.add(cand)
                out.append(cand)
                misses = 0
    return out
