"""Cost models: which candidates deserve a measurement.

A cost model scores candidates of a task (higher = predicted faster) and learns from measured
ones (``base``). ``create(kind)`` makes one by short name: ``mlp`` (msgym's PyTorch model, ``mlp``),
``xgb`` (MetaSchedule's ``XGBModel``, same features, ``xgb``), ``none``; or loads a saved MLP from a
path. ``data``: final programs, feature rows, training data; ``model_filter``: predict many,
measure the best (agents' ``cost_model=``); ``metaschedule``: the MLP inside MetaSchedule's search;
``evaluation``: held-out ranking metrics.
"""

from msgym.cost_models.base import COST_MODELS, CostModel, CostModelError, validate
from msgym.cost_models.data import TaskData, task_data
from msgym.cost_models.mlp import MLPConfig, MLPCostModel
from msgym.cost_models.registry import create
from msgym.cost_models.xgb import XGBCostModel

__all__ = [
    "COST_MODELS",
    "CostModel",
    "CostModelError",
    "validate",
    "TaskData",
    "task_data",
    "MLPConfig",
    "MLPCostModel",
    "XGBCostModel",
    "create",
]
