"""The cost-model interface: score candidates of a task (higher = predicted faster), learn from measured ones."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from msgym.space import DesignSpaces

__all__ = ["COST_MODELS", "PRETRAINED", "CostModelError", "CostModel", "validate"]

COST_MODELS = ("mlp", "xgb", "pretrained", "none")  # by short name; or the path of a saved MLP (.pt)
# The MLP pretrained on the shipped dataset (experiments/pretrain.py; what it saw: the .json beside it).
PRETRAINED = Path(__file__).parent / "pretrained" / "mlp.pt"


class CostModelError(ValueError):
    """Bad data or a bad file for a cost model; the message says what would be valid."""


class CostModel:
    """Scores candidates of a task (higher = predicted faster) and learns from measurements."""

    name = "base"

    def update(
        self,
        spaces: DesignSpaces,
        candidates: Sequence[tuple[int, Any]],
        latencies: Sequence["float | None"],
        baseline_s: float,
    ) -> None:
        """Learn from measured (space, decisions) of one task; a None latency is a failed one."""
        raise NotImplementedError

    def predict(self, spaces: DesignSpaces, candidates: Sequence[tuple[int, Any]]) -> np.ndarray:
        """Scores of (space, decisions) candidates; an invalid candidate scores -inf."""
        raise NotImplementedError


def validate(kind: "str | CostModel | None") -> None:
    """Fail early (an agent's constructor) on a cost model that ``create`` could not make."""
    if isinstance(kind, CostModel) or kind in (None, *COST_MODELS):
        return
    if not Path(kind).is_file():
        raise CostModelError(
            f"unknown cost model {kind!r}; choose one of {', '.join(COST_MODELS)} or a saved MLP (.pt file)"
        )
