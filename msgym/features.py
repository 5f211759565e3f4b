"""Observations: TIR features of the program so far, plus the context of the pending decision.

Layout (float32, fixed size for a given ``n_actions``), the same meaning on every task:

* program (329): MetaSchedule's per-store features (164 per buffer store, already log-scaled by
  TVM) of the program under the decisions made so far, as mean and max over the stores, then
  log2(1 + number of stores). Zeros in the context-only observation.
* context (14): one-hot decision kind (5, see ``decisions.KINDS``); decision index / decisions in
  the space; sub-step / sub-steps of the decision; log2(1 + loop extent); log2(1 + extent left to
  split); log2(1 + number of options); page level / levels; log2(1 + sub-steps); episode done
  flag; design spaces / 16.
* options (n_actions): a signed log2(1 + |label|) per action slot: the tile factor, categorical
  value or compute-location index it picks (for a paged choice, the first option of its page).
* mask (n_actions): 1 for valid actions (the same as ``action_masks()``).
"""

from __future__ import annotations

import numpy as np

from msgym._tvm import ms
from msgym.decisions import KINDS

PER_STORE = 164
PROGRAM_DIM = 2 * PER_STORE + 1
CONTEXT_DIM = len(KINDS) + 9
BOUND = 1e4  # observations are clipped to [-BOUND, BOUND]

_EXTRACTOR = None


def observation_size(n_actions: int) -> int:
    return PROGRAM_DIM + CONTEXT_DIM + 2 * n_actions


def program_features(context: ms.TuneContext, sch) -> np.ndarray:
    """Aggregated per-store features of a (possibly partly scheduled) program."""
    global _EXTRACTOR
    if _EXTRACTOR is None:
        _EXTRACTOR = ms.feature_extractor.PerStoreFeature()
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo

    candidate = ms.MeasureCandidate(sch, ArgInfo.from_prim_func(sch.mod["main"]))
    rows = _EXTRACTOR.extract_from(context, [candidate])[0].numpy()
    if rows.size == 0:
        return np.zeros(PROGRAM_DIM, dtype=np.float32)
    out = np.concatenate([rows.mean(axis=0), rows.max(axis=0), [np.log2(1 + rows.shape[0])]])
    return _clean(out)


def signed_log2(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.sign(v) * np.log2(1 + np.abs(v))


def _clean(x: np.ndarray) -> np.ndarray:
    return np.clip(np.nan_to_num(x, nan=0.0, posinf=BOUND, neginf=-BOUND), -BOUND, BOUND).astype(np.float32)


def assemble(program: np.ndarray, context: np.ndarray, labels: list[float], mask: np.ndarray) -> np.ndarray:
    """Concatenate the four parts; ``labels`` may be shorter than the mask (unused slots are 0)."""
    n = mask.shape[0]
    opts = np.zeros(n, dtype=np.float64)
    opts[: len(labels)] = signed_log2(labels)
    return _clean(np.concatenate([program, context, opts, mask.astype(np.float64)]))
