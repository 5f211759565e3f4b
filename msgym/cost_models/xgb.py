"""MetaSchedule's own XGBoost cost model behind msgym's interface (it reads the same features)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from msgym._tvm import ms
from msgym.cost_models.base import CostModel
from msgym.cost_models.data import final_programs, scores
from msgym.space import DesignSpaces

__all__ = ["XGBCostModel"]


class XGBCostModel(CostModel):
    """MetaSchedule's own XGBModel behind msgym's interface (it extracts the same features)."""

    name = "xgb"

    def __init__(self, **kwargs: Any):
        import os

        self.model = ms.cost_model.XGBModel(num_tuning_cores=os.cpu_count() or 1, **kwargs)

    def update(
        self,
        spaces: DesignSpaces,
        candidates: Sequence[tuple[int, Any]],
        latencies: Sequence["float | None"],
        baseline_s: float,
    ) -> None:
        mcs = final_programs(spaces, candidates)
        keep = [i for i, mc in enumerate(mcs) if mc is not None]
        results = [
            ms.runner.RunnerResult(
                run_secs=[float(latencies[i])] if latencies[i] else None, error_msg=None if latencies[i] else "failed"
            )
            for i in keep
        ]
        if keep:
            self.model.update(spaces.context, [mcs[i] for i in keep], results)

    def predict(self, spaces: DesignSpaces, candidates: Sequence[tuple[int, Any]]) -> np.ndarray:
        return scores(final_programs(spaces, candidates), lambda valid: self.model.predict(spaces.context, valid))
