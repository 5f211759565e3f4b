"""Measurement: build, check, time, cache and record programs (see ``measurer.py``).

The measurer knows tasks and programs, nothing of design spaces or searches. Anything with
``measure_programs(task, requests, use_cache)`` and ``baseline(task)`` can stand in for it (the
search loop's ``LoopMeasurer`` does, for an agent acting in the environment).
"""

from msgym.measure.measurer import Measurer, MeasurerSettings, ProgramRequest
from msgym.measure.result import MeasureResult, TimingConfig
from msgym.measure.runners import RunnerError
from msgym.measure.store import cache_dir, default_store

__all__ = [
    "Measurer",
    "MeasurerSettings",
    "ProgramRequest",
    "MeasureResult",
    "TimingConfig",
    "RunnerError",
    "cache_dir",
    "default_store",
]
