"""TIR features of programs: MetaSchedule's per-store features, extracted in one place.

One row of 164 numbers per buffer store (loop structure, memory access, arithmetic), already
log-scaled by TVM. The environment's observation aggregates them (``aggregate``); the cost models
read the rows of final programs (``rows``). A ``StoreFeatures`` holds one TVM extractor; whoever
needs features owns one (each ``DesignSpaces`` has one), so there is no process-wide extractor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from msgym._tvm import ms

__all__ = ["PER_STORE", "PROGRAM_DIM", "StoreFeatures", "measure_candidate"]

PER_STORE = 164
PROGRAM_DIM = 2 * PER_STORE + 1  # mean and max over stores, then log2(1 + number of stores)


def measure_candidate(sch: Any) -> Any:
    """A program as MetaSchedule's ``MeasureCandidate`` (what its feature extractor reads)."""
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo

    return ms.MeasureCandidate(sch, ArgInfo.from_prim_func(sch.mod["main"]))


class StoreFeatures:
    """Per-store feature rows of programs of one task (``context``: the task's TuneContext)."""

    def __init__(self) -> None:
        self.extractor = ms.feature_extractor.PerStoreFeature()

    def rows(self, context: Any, candidates: Sequence[Any]) -> list[np.ndarray]:
        """n_stores x 164 float32 rows of each MeasureCandidate; one zero row for a None."""
        valid = [mc for mc in candidates if mc is not None]
        rows = iter(self.extractor.extract_from(context, valid)) if valid else iter(())
        return [
            np.asarray(next(rows).numpy(), dtype=np.float32) if mc is not None else np.zeros((1, PER_STORE), np.float32)
            for mc in candidates
        ]

    def aggregate(self, context: Any, sch: Any) -> np.ndarray:
        """One vector (PROGRAM_DIM, float64) of a possibly partly scheduled program."""
        rows = self.extractor.extract_from(context, [measure_candidate(sch)])[0].numpy()
        if rows.size == 0:
            return np.zeros(PROGRAM_DIM)
        return np.concatenate([rows.mean(axis=0), rows.max(axis=0), [np.log2(1 + rows.shape[0])]])
