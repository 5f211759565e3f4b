"""Measurement: build, check, time, cache and record candidates (see ``measurer.py``)."""

from msgym.measure.measurer import Measurer
from msgym.measure.store import cache_dir
from msgym.measure.result import MeasureResult, TimingConfig
from msgym.measure.runners import RunnerError

__all__ = ["Measurer", "MeasureResult", "TimingConfig", "RunnerError", "cache_dir"]
