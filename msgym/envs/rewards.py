"""Reward spaces: how a measured latency (or a failure) becomes a reward.

``log_speedup`` (default) is log(baseline latency / latency), where the baseline is the task's
unscheduled program built by LLVM; ``speedup`` is the plain ratio; ``neg_latency`` is minus the
latency in milliseconds. ``predicted_log_speedup`` measures nothing: it is the cost model's
predicted log speedup (cheap episodes, e.g. to pretrain a policy), and episodes under it carry no
latency, so predicted and measured rewards never mix in results. A kernel that fails to build,
crashes, times out or computes a wrong result gets the reward space's ``on_error`` value and
``info["error"]`` says why (``outcome.outcome`` applies them, for the env and the search loop).
"""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class RewardSpace:
    name: str
    on_error: float  # the reward of a failed candidate
    summary: str
    predicted: bool = False  # from a cost model, not a measurement

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
        RewardSpace(
            "predicted_log_speedup",
            on_error=-5.0,
            predicted=True,
            summary="the MLP cost model's predicted log speedup (nothing measured); invalid -5",
        ),
    )
}


def reward_space(name: "str | RewardSpace") -> RewardSpace:
    if isinstance(name, RewardSpace):
        return name
    if name not in REWARD_SPACES:
        raise ValueError(f"unknown reward space {name!r}; choose one of {', '.join(REWARD_SPACES)}")
    return REWARD_SPACES[name]
