"""What each kind of MetaSchedule sampling decision may be, as a sequence of small choices.

A decision is made in *sub-steps*: a perfect tile of a loop into n factors picks one factor at a
time, outermost first (a 4-way tile of extent 1024 has 286 valid tilings but each sub-step offers at
most 11 divisors); every other kind is a single sub-step. ``options(prefix)`` is the exact set of
values that can still be completed into a valid decision, so every valid decision is reachable
and no invalid one is offered.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

__all__ = [
    "DecisionSpec",
    "TileSpec",
    "PartitionedTileSpec",
    "CategoricalSpec",
    "LocationSpec",
    "SpaceChoiceSpec",
    "DECISION_KINDS",
    "all_values",
    "count_values",
    "divisors",
]

# Order fixes the one-hot position of each kind in observations: append, never reorder.
DECISION_KINDS = (
    "DesignSpace",
    "SamplePerfectTile",
    "SamplePartitionedTile",
    "SampleCategorical",
    "SampleComputeLocation",
)


@functools.lru_cache(maxsize=4096)
def divisors(n: int) -> tuple[int, ...]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return tuple(sorted(set(small + [n // d for d in small])))


@dataclasses.dataclass(frozen=True)
class DecisionSpec:
    """One decision: its kind, the value TVM's design space had (``default``) and its sub-steps."""

    kind: str
    default: Any

    @property
    def n_sub_steps(self) -> int:
        return 1

    def options(self, prefix: tuple[int, ...]) -> list[int]:
        raise NotImplementedError

    def value(self, prefix: tuple[int, ...]) -> Any:
        """The TVM decision once all sub-steps are chosen."""
        return prefix[0]

    def prefix_for(self, value: Any) -> tuple[int, ...]:
        """The sub-step choices that would make ``value``."""
        return (int(value),)

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a valid decision here (reachable through the sub-steps)."""
        try:
            prefix = self.prefix_for(value)
        except (TypeError, ValueError):
            return False
        if len(prefix) != self.n_sub_steps:
            return False
        if any(prefix[i] not in self.options(prefix[:i]) for i in range(len(prefix))):
            return False
        return self.value(prefix) == value

    # Context for observations: the loop extent involved (0 if none) and what is left of it.
    def extent(self) -> int:
        return 0

    def remaining(self, prefix: tuple[int, ...]) -> int:
        return 0

    def option_labels(self, options: list[int]) -> list[int]:
        """Numbers that describe each option to a policy (the tile factor, candidate value, ...)."""
        return list(options)


@dataclasses.dataclass(frozen=True)
class _TileBase(DecisionSpec):
    """A tiling of one loop into n factors, chosen outermost first; the last factor follows."""

    loop_extent: int | None = None  # None: not a constant extent
    n: int = 2

    @property
    def fixed(self) -> bool:
        """TVM fixes the decision to [-1, 1, ...] (nothing to choose)."""
        return self.loop_extent is None

    @property
    def n_sub_steps(self) -> int:
        return 0 if self.fixed else self.n - 1

    def extent(self) -> int:
        return self.loop_extent or 0

    def remaining(self, prefix: tuple[int, ...]) -> int:
        return self.loop_extent // math.prod(prefix) if self.loop_extent else 0

    def value(self, prefix: tuple[int, ...]) -> list[int]:
        if self.fixed:
            return [-1] + [1] * (self.n - 1)
        return [*prefix, self.remaining(prefix)]

    def prefix_for(self, value: Any) -> tuple[int, ...]:
        return tuple(int(x) for x in value)[: self.n_sub_steps]


@dataclasses.dataclass(frozen=True)
class TileSpec(_TileBase):
    """SamplePerfectTile: ``loop_extent`` = f0 * ... * f(n-1), innermost <= max_innermost_factor."""

    max_innermost_factor: int = -1

    def options(self, prefix: tuple[int, ...]) -> list[int]:
        return self.options_at(self.remaining(prefix), len(prefix))

    def options_at(self, rem: int, j: int) -> list[int]:
        """Factors allowed at sub-step j when ``rem`` of the extent is still to split."""
        if j == self.n - 2 and self.max_innermost_factor != -1:
            # The last free factor fixes the innermost one: rem // d must fit.
            return [d for d in divisors(rem) if rem // d <= self.max_innermost_factor]
        return list(divisors(rem))  # completing with (..., 1) is always possible


@dataclasses.dataclass(frozen=True)
class PartitionedTileSpec(_TileBase):
    """SamplePartitionedTile: a perfect tile whose factors from ``partition_pos`` on multiply to a
    multiple of ``innerpart_factor``. Few and small in practice, so its tilings are enumerated."""

    partition_pos: int = 0
    innerpart_factor: int = 1

    @property
    def fixed(self) -> bool:
        return self.loop_extent is None or self.loop_extent % self.innerpart_factor != 0

    @functools.cached_property
    def tilings(self) -> tuple[tuple[int, ...], ...]:
        if self.fixed:
            return ()
        out = []

        def walk(prefix: tuple[int, ...], rem: int) -> None:
            if len(prefix) == self.n - 1:
                tiling = (*prefix, rem)
                if math.prod(tiling[self.partition_pos :]) % self.innerpart_factor == 0:
                    out.append(tiling)
                return
            for d in divisors(rem):
                walk((*prefix, d), rem // d)

        walk((), self.loop_extent)
        return tuple(out)

    def options(self, prefix: tuple[int, ...]) -> list[int]:
        j = len(prefix)
        return sorted({t[j] for t in self.tilings if t[:j] == prefix})


@dataclasses.dataclass(frozen=True)
class CategoricalSpec(DecisionSpec):
    """SampleCategorical: the decision is an index into ``candidates``."""

    candidates: tuple[int, ...] = ()

    def options(self, prefix: tuple[int, ...]) -> list[int]:
        return list(range(len(self.candidates)))

    def option_labels(self, options: list[int]) -> list[int]:
        return [self.candidates[i] for i in options]


@dataclasses.dataclass(frozen=True)
class LocationSpec(DecisionSpec):
    """SampleComputeLocation: -2 inline, -1 root, k >= 0 the k-th loop TVM lists as a location."""

    locations: tuple[int, ...] = ()

    def options(self, prefix: tuple[int, ...]) -> list[int]:
        return list(self.locations)


@dataclasses.dataclass(frozen=True)
class SpaceChoiceSpec(DecisionSpec):
    """Which of the task's design spaces to walk (the first step when there are several)."""

    n_spaces: int = 1

    def options(self, prefix: tuple[int, ...]) -> list[int]:
        return list(range(self.n_spaces))


def all_values(spec: DecisionSpec) -> list[Any]:
    """Every decision reachable through the sub-steps (for tests and small spaces)."""
    out = []

    def walk(prefix: tuple[int, ...]) -> None:
        if len(prefix) == spec.n_sub_steps:
            out.append(spec.value(prefix))
            return
        for option in spec.options(prefix):
            walk((*prefix, option))

    walk(())
    return out


def count_values(spec: DecisionSpec) -> int:
    """How many decisions are reachable, without listing them (tiles can have many)."""
    if isinstance(spec, TileSpec) and spec.loop_extent is not None:

        @functools.cache
        def count(rem: int, j: int) -> int:
            if j == spec.n_sub_steps:
                return 1
            return sum(count(rem // d, j + 1) for d in spec.options_at(rem, j))

        return count(spec.loop_extent, 0)
    return len(all_values(spec))
