"""Cost models by short name: ``create(kind)``."""

from __future__ import annotations

from typing import Any

from msgym.cost_models.base import PRETRAINED, CostModel, validate
from msgym.cost_models.mlp import MLPCostModel
from msgym.cost_models.xgb import XGBCostModel

__all__ = ["create"]


def create(kind: "str | CostModel | None", **kwargs: Any) -> "CostModel | None":
    """``mlp``, ``xgb``, ``pretrained`` (the MLP pretrained on the shipped dataset, to fine-tune),
    ``none`` (None), a path to a saved MLP, or a model itself."""
    if kind is None or isinstance(kind, CostModel):
        return kind
    if kind == "none":
        return None
    if kind == "mlp":
        return MLPCostModel(**kwargs)
    if kind == "xgb":
        return XGBCostModel(**kwargs)
    if kind == "pretrained":
        return MLPCostModel.load(PRETRAINED)
    validate(kind)
    return MLPCostModel.load(kind)
