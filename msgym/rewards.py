"""Reward spaces: how a measured latency (or a failure) becomes a reward.

``log_speedup`` (default) is log(baseline latency / latency), where the baseline is the task's
unscheduled program built by LLVM; ``speedup`` is the plain ratio; ``neg_latency`` is minus the
latency in milliseconds. A kernel that fails to build, crashes, times out or computes a wrong
result gets the reward space's ``on_error`` value and ``info["error"]`` says why.
"""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class RewardSpace:
    name: str
    on_error: float  # the reward of a failed candidate
    summary: str

    def __call__(self, baseline_s: float, latency_s: float) -> float:
        if self.name == "log_speedup":
            return math.log(baseline_s / latency_s)
        if self.name == "speedup":
            return baseline_s / latency_s
        return -latency_s * 1e3


REWARD_SPACES = {
    r.name: r
    for r in (
        RewardSpace("log_speedup", on_error=-5.0, summary="log(baseline / latency); errors -5 (a 150x slowdown)"),
        RewardSpace("speedup", on_error=0.0, summary="baseline / latency; errors 0"),
        RewardSpace("neg_latency", on_error=-1e4, summary="-latency in ms; errors -10 s"),
    )
}


def reward_space(name: "str | RewardSpace") -> RewardSpace:
    if isinstance(name, RewardSpace):
        return name
    if name not in REWARD_SPACES:
        raise ValueError(f"unknown reward space {name!r}; choose one of {', '.join(REWARD_SPACES)}")
    return REWARD_SPACES[name]
