"""What cost models learn from and read: final programs of candidates, their feature rows, log speedups."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from msgym.cost_models.base import CostModelError
from msgym.features import measure_candidate
from msgym.space import DesignSpaces, InvalidCandidate

__all__ = ["final_programs", "feature_rows", "TaskData", "task_data", "check_trainable", "scores"]


def final_programs(spaces: DesignSpaces, candidates: Sequence[tuple[int, Any]]) -> list[Any]:
    """MetaSchedule ``MeasureCandidate``s of the final programs of (space, decisions); None if invalid."""
    out = []
    for space, decisions in candidates:
        try:
            out.append(measure_candidate(spaces.program(space, decisions)))
        except InvalidCandidate:
            out.append(None)
    return out


def feature_rows(spaces: DesignSpaces, programs: Sequence[Any]) -> list[np.ndarray]:
    """Per-store feature rows (n_stores x 164) of each final program (one zero row if None)."""
    return spaces.features.rows(spaces.context, programs)


@dataclasses.dataclass
class TaskData:
    """Measured candidates of one task: their feature rows and log speedups."""

    name: str
    rows: list[np.ndarray]
    log_speedup: np.ndarray  # log(baseline latency / latency)

    def __len__(self) -> int:
        return len(self.rows)


def task_data(spaces: DesignSpaces, measured: Sequence[tuple[int, Any, float]], baseline_s: float) -> TaskData:
    """(space, decisions, latency) of one task -> features and targets (invalid ones dropped)."""
    mcs = final_programs(spaces, [(s, d) for s, d, _ in measured])
    keep = [i for i, mc in enumerate(mcs) if mc is not None]
    rows = feature_rows(spaces, [mcs[i] for i in keep])
    y = np.array([math.log(baseline_s / measured[i][2]) for i in keep], dtype=np.float32)
    return TaskData(spaces.task.name, rows, y)


def check_trainable(data: Sequence[TaskData]) -> None:
    if not any(len(d) >= 2 for d in data):
        sizes = ", ".join(f"{d.name}: {len(d)}" for d in data) or "no tasks"
        raise CostModelError(
            f"a cost model needs at least 2 successful measurements of one task to learn a ranking; got {sizes}. "
            "Measure some first (msgym collect --tasks ... --per-task N)"
        )


def scores(mcs: Sequence[Any], predict: Callable[[list], Any]) -> np.ndarray:
    """``predict`` over the valid MeasureCandidates; -inf for the invalid (None) ones."""
    valid = [mc for mc in mcs if mc is not None]
    scores = iter(np.asarray(predict(valid), dtype=np.float64)) if valid else iter(())
    return np.array([next(scores) if mc is not None else -np.inf for mc in mcs])
