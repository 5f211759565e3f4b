"""Observations: TIR features of the program so far, plus the context of the pending decision.

Layout (float32, fixed size for a given ``n_actions``), the same meaning on every task:

* program (329): MetaSchedule's per-store features (164 per buffer store, already log-scaled by
  TVM) of the program under the decisions made so far, as mean and max over the stores, then
  log2(1 + number of stores). Zeros in the context-only observation.
* context (14): one-hot decision kind (5, see ``decisions.DECISION_KINDS``); decision index / decisions in
  the space; sub-step / sub-steps of the decision; log2(1 + loop extent); log2(1 + extent left to
  split); log2(1 + number of options); page level / levels; log2(1 + sub-steps); episode done
  flag; design spaces / 16.
* options (n_actions): a signed log2(1 + |label|) per action slot: the tile factor, categorical
  value or compute-location index it picks (for a paged choice, the first option of its page).
* mask (n_actions): 1 for valid actions (the same as ``action_masks()``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from msgym.decisions import DECISION_KINDS, DecisionSpec
from msgym.features import PROGRAM_DIM

__all__ = ["PROGRAM_DIM", "CONTEXT_DIM", "BOUND", "ENCODING", "observation_size", "context_vector", "assemble"]

CONTEXT_DIM = len(DECISION_KINDS) + 9
BOUND = 1e4  # observations are clipped to [-BOUND, BOUND]
ENCODING = f"features-v1/{PROGRAM_DIM}+{CONTEXT_DIM}"  # what a policy's inputs mean (saved with policies)


def observation_size(n_actions: int) -> int:
    return PROGRAM_DIM + CONTEXT_DIM + 2 * n_actions


def context_vector(rollout: Any, n_spaces: int, n_decisions: int, n_options: int, level_fraction: float) -> np.ndarray:
    """The pending decision's context (see the layout above); ``rollout`` is the episode's walk."""
    ctx = np.zeros(CONTEXT_DIM, dtype=np.float64)
    ctx[-1] = n_spaces / 16
    if rollout.done or rollout.spec is None:
        ctx[-2] = 1.0
        return ctx
    spec: DecisionSpec = rollout.spec
    ctx[DECISION_KINDS.index(spec.kind)] = 1.0
    k = len(DECISION_KINDS)
    ctx[k : k + 7] = [
        rollout.decision_index / max(1, n_decisions),
        len(rollout.prefix) / max(1, spec.n_sub_steps),
        math.log2(1 + spec.extent()),
        math.log2(1 + spec.remaining(rollout.prefix)),
        math.log2(1 + n_options),
        level_fraction,
        math.log2(1 + spec.n_sub_steps),
    ]
    return ctx


def signed_log2(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.sign(v) * np.log2(1 + np.abs(v))


def clean(x: np.ndarray) -> np.ndarray:
    """float32, finite, within [-BOUND, BOUND]."""
    return np.clip(np.nan_to_num(x, nan=0.0, posinf=BOUND, neginf=-BOUND), -BOUND, BOUND).astype(np.float32)


def assemble(program: np.ndarray, context: np.ndarray, labels: list[float], mask: np.ndarray) -> np.ndarray:
    """Concatenate the four parts; ``labels`` may be shorter than the mask (unused slots are 0)."""
    n = mask.shape[0]
    opts = np.zeros(n, dtype=np.float64)
    opts[: len(labels)] = signed_log2(labels)
    return clean(np.concatenate([clean(program), context, opts, mask.astype(np.float64)]))
