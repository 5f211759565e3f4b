"""The interface every agent implements: propose candidates, be told their measured results.

A strategy (``agents/<name>.py``) never builds or times a kernel: the search loop (``loop``) owns
the budget, the measurer and the logging.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from msgym.measure import MeasureResult
from msgym.space import Candidate, DesignSpaces
from msgym.tasks import Task

__all__ = ["Candidate", "SearchContext", "SearchStrategy"]


@dataclasses.dataclass(frozen=True)
class SearchContext:
    """What a strategy may know about the search it is part of."""

    spaces: DesignSpaces
    seed: int = 0
    trials: int | None = None  # the budget of measured candidates
    baseline_s: float | None = None  # latency of the unscheduled program (rewards are relative to it)
    run_dir: Path | None = None  # where a strategy may write its own logs and checkpoints

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
