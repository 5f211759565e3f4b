"""msgym's MLP inside MetaSchedule's own search, through its ``PyCostModel`` extension point."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from msgym._tvm import ms
from msgym.cost_models.data import TaskData
from msgym.cost_models.mlp import MLPCostModel
from msgym.features import StoreFeatures

__all__ = ["metaschedule_cost_model"]


def metaschedule_cost_model(model: "MLPCostModel", baseline_s: float, features: "StoreFeatures | None" = None) -> Any:
    """msgym's MLP as a MetaSchedule cost model (its Python extension point), for ``tune_tir``'s
    search: it learns from and scores MetaSchedule's own measure candidates. ``features``: the
    feature rows' cache to use (a search that reads the same candidates' rows again shares it)."""
    from tvm.ir.utils import derived_object

    features = StoreFeatures() if features is None else features

    @derived_object
    class MLPForMetaSchedule(ms.cost_model.PyCostModel):
        def load(self, path: str) -> None:
            loaded = MLPCostModel.load(path)
            model.config, model.net = loaded.config, loaded.net

        def save(self, path: str) -> None:
            model.save(path)

        def update(self, context: Any, candidates: list, results: list) -> None:
            secs = [
                float(np.median([float(x) for x in r.run_secs])) if r.run_secs is not None and not r.error_msg else None
                for r in results
            ]
            name = str(context.task_name)
            kept = model.learnable(name, candidates, secs)  # failures too: ranked last
            if not kept:
                return
            rows = features.rows(context, [mc for mc, _ in kept])
            y = np.array([math.log(baseline_s / s) for _, s in kept], dtype=np.float32)
            model.update_data(TaskData(name, rows, y))

        def predict(self, context: Any, candidates: list) -> np.ndarray:
            # MetaSchedule samples parents in proportion to their scores: give it predicted speedups (> 0).
            return np.exp(model.predict_rows(features.rows(context, candidates)).astype("float64"))

    return MLPForMetaSchedule()
