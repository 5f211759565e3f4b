"""Drift detection: a fixed reference kernel timed now and then, to see the machine change.

The same kernel's latency moves by several percent over minutes on a shared machine (another
tenant, frequency scaling). A ``DriftMonitor`` times one fixed program (the default schedule of
gmm-64 for the search's target, built once; on a GPU its thread-bound unscheduled program) every
``every`` trials of a search; its drift is the latency over the first one's, less 1. Results
measured while the last check was off by more than ``threshold`` are flagged: their latencies are
not comparable with the rest of the run.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["DriftMonitor"]

REFERENCE_TASK = "gmm-64"


@dataclasses.dataclass
class DriftMonitor:
    measurer: Any
    every: int = 16  # trials between checks
    threshold: float = 0.05  # |drift| above which results are flagged
    history: list[dict] = dataclasses.field(default_factory=list)  # {"trial", "latency_s", "drift"}
    target: Any = None  # the search's target (None: this CPU): the drift of the device it runs on

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"drift checks every {self.every} trials: give a positive number")
        from msgym._tvm import is_gpu
        from msgym.measure.measurer import baseline_program
        from msgym.space import design_spaces
        from msgym.tasks import get_task

        self.task = get_task(REFERENCE_TASK, self.target)
        if is_gpu(self.task.target):
            self.program = baseline_program(self.task)
        else:
            spaces = design_spaces(self.task)
            self.program = spaces.program(0, spaces.default_decisions(0)).mod

    @property
    def off(self) -> bool:
        """Whether the last check found the machine off by more than the threshold."""
        return bool(self.history) and abs(self.history[-1]["drift"]) > self.threshold

    def due(self, trial: int) -> bool:
        return not self.history or trial - self.history[-1]["trial"] >= self.every

    def check(self, trial: int) -> float:
        """Time the reference now; returns the drift (0 at the first check)."""
        result = self.measurer.measure(self.task, self.program, use_cache=False)
        if not result.ok:
            raise RuntimeError(f"the drift reference kernel could not be measured: {result.error}")
        first = self.history[0]["latency_s"] if self.history else result.latency_s
        drift = result.latency_s / first - 1
        self.history.append({"trial": trial, "latency_s": result.latency_s, "drift": drift})
        return drift
