"""The end of an episode: a candidate is measured (or its speed predicted), rewarded and recorded.

``measure_candidates`` turns design-space points into programs for the measurer (the measurer
knows programs, not design spaces). ``outcome`` is the one place where a measured result becomes
a reward, a record, a speedup and GFLOPS; the environment and the search loop both call it, so
an episode's reward and a search's record of the same candidate always agree.
``predicted_outcome`` does the same for a cost model's prediction (no latency, so it can never
pass for a measurement).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

from msgym.envs.records import EpisodeRecord
from msgym.envs.rewards import RewardSpace
from msgym.measure import MeasureResult, ProgramRequest
from msgym.space import DesignSpaces, InvalidCandidate
from msgym.tasks import Task

__all__ = ["Outcome", "measure_candidates", "outcome", "predicted_outcome", "PREDICTED_MAX"]

PREDICTED_MAX = math.log(1e4)  # predicted rewards are clipped to [on_error, log 10^4]


@dataclasses.dataclass(frozen=True)
class Outcome:
    reward: float
    record: EpisodeRecord
    speedup: float | None = None  # measured: baseline / latency
    gflops: float = 0.0
    predicted_speedup: float | None = None  # a cost model's, never a measurement's


def _program(spaces: DesignSpaces, space: int, decisions: Any) -> Callable[[], Any]:
    def make() -> Any:
        try:
            return spaces.program_mod(space, decisions)
        except InvalidCandidate as err:
            return str(err)  # no program: the measurer records this as the candidate's error

    return make


def measure_candidates(
    measurer: Any, spaces: DesignSpaces, candidates: Sequence[tuple[int, Any]], remeasure: bool = False
) -> list[MeasureResult]:
    """Measure (design space, decisions) points of ``spaces.task``; cached ones are not re-run."""
    requests = [ProgramRequest(space, decisions, _program(spaces, space, decisions)) for space, decisions in candidates]
    return measurer.measure_programs(spaces.task, requests, use_cache=not remeasure)


def outcome(
    task: Task,
    space: int,
    decisions: list,
    result: MeasureResult,
    baseline_s: float,
    reward_space: RewardSpace,
    seed: "int | None" = None,
    wall_s: float = 0.0,
) -> Outcome:
    """Reward, record, speedup and GFLOPS of a measured candidate (the error reward if it failed)."""
    latency = result.latency_s if result.ok else None
    reward = reward_space(baseline_s, latency) if latency else reward_space.on_error
    speedup = baseline_s / latency if latency else None
    record = _record(
        task,
        space,
        decisions,
        seed,
        reward_space,
        reward,
        wall_s,
        latency_s=latency,
        speedup=speedup,
        error=None if latency else result.error,
    )
    return Outcome(reward, record, speedup, task.gflops(latency))


def predicted_outcome(
    task: Task,
    space: int,
    decisions: list,
    predicted: "float | None",
    error: "str | None",
    reward_space: RewardSpace,
    seed: "int | None" = None,
    wall_s: float = 0.0,
) -> Outcome:
    """The cost model's predicted log speedup as a reward, clipped: a model extrapolating to an
    unseen task can predict anything. A non-finite prediction is an invalid candidate."""
    reward = reward_space.on_error
    if error is None and predicted is not None and math.isfinite(predicted):
        reward = min(max(predicted, reward_space.on_error), PREDICTED_MAX)
    elif error is None:
        error = "invalid candidate (postprocessing rejected the program)"
    record = _record(task, space, decisions, seed, reward_space, reward, wall_s, error=error)
    return Outcome(reward, record, predicted_speedup=math.exp(reward) if error is None else None)


def _record(
    task: Task,
    space: int,
    decisions: list,
    seed: "int | None",
    reward_space: RewardSpace,
    reward: float,
    wall_s: float,
    **result: Any,
) -> EpisodeRecord:
    return EpisodeRecord(
        task=task.spec,
        target=str(task.target),
        space=space,
        space_kind=task.space_kind,
        decisions=decisions,
        seed=seed,
        reward_space=reward_space.name,
        reward=reward,
        wall_s=wall_s,
        **result,
    )
