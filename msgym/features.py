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
import tvm_ffi

from msgym._tvm import ms
from msgym.lru import LRU

__all__ = ["PER_STORE", "PROGRAM_DIM", "StoreFeatures", "measure_candidate"]

PER_STORE = 164
PROGRAM_DIM = 2 * PER_STORE + 1  # mean and max over stores, then log2(1 + number of stores)


def measure_candidate(sch: Any) -> Any:
    """A program as MetaSchedule's ``MeasureCandidate`` (what its feature extractor reads)."""
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo

    return ms.MeasureCandidate(sch, ArgInfo.from_prim_func(sch.mod["main"]))


class StoreFeatures:
    """Per-store feature rows of programs of one task (``context``: the task's TuneContext).

    Rows are remembered by the program's structural hash (``cache`` programs, 0: none): the
    learned agent's search scores a population of 512 five times per batch and 12-25% of each
    round's programs were scored in an earlier one (gmm-512; extraction is ~1.2 ms a program on
    2 threads, hashing ~0.07 ms)."""

    def __init__(self, cache: int = 4096) -> None:
        self.extractor = ms.feature_extractor.PerStoreFeature()
        self.cache = LRU(cache) if cache > 0 else None
        self.hits = 0  # rows answered from the cache (for profiles and tests)

    def rows(self, context: Any, candidates: Sequence[Any]) -> list[np.ndarray]:
        """n_stores x 164 float32 rows of each MeasureCandidate; one zero row for a None."""
        out: list[np.ndarray | None] = [None] * len(candidates)
        keys: list[Any] = [None] * len(candidates)
        todo = []
        target = str(context.target) if self.cache is not None else ""
        for i, mc in enumerate(candidates):
            if mc is None:
                out[i] = np.zeros((1, PER_STORE), np.float32)
                continue
            if self.cache is not None:
                keys[i] = (target, tvm_ffi.structural_hash(mc.sch.mod))
                out[i] = self.cache.get(keys[i])
            if out[i] is None:
                todo.append(i)
        self.hits += sum(1 for mc in candidates if mc is not None) - len(todo)
        if todo:
            extracted = self.extractor.extract_from(context, [candidates[i] for i in todo])
            for i, nd in zip(todo, extracted):
                out[i] = np.asarray(nd.numpy(), dtype=np.float32)
                if self.cache is not None:
                    self.cache.put(keys[i], out[i])
        return out  # type: ignore[return-value]

    def aggregate(self, context: Any, sch: Any) -> np.ndarray:
        """One vector (PROGRAM_DIM, float64) of a possibly partly scheduled program."""
        rows = self.extractor.extract_from(context, [measure_candidate(sch)])[0].numpy()
        if rows.size == 0:
            return np.zeros(PROGRAM_DIM)
        return np.concatenate([rows.mean(axis=0), rows.max(axis=0), [np.log2(1 + rows.shape[0])]])
