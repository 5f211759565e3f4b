"""How long a candidate takes to build, predicted from its per-store features.

A measurement costs its build as well as its run, and on a 2-core machine the builds are most of
a learned search's wall time: LLVM's back end takes 1-2 s over some GEMM 512 kernels with large
vectorized inner tiles where most build in 0.05-0.1 s, and those slow builds are seldom the fast
kernels. The model ranks a batch's candidates by predicted build time so that a search can leave
the costliest few unmeasured (the learned agent's ``build_drop``). Only the ranking within a task
is used, so the machine the model was trained on sets no scale.

Trained by ``experiments/build_time_model.py`` on 2,480 builds on one machine (Zen 5): 64 of the
shipped dataset's candidates and 96 that the learned agent's search draws for each of its 16 tasks,
the benchmarks' tasks left out. Shipped as ``pretrained/build_time.json``: XGBoost regression of log
build seconds on each program's per-store features summed and maxed over its stores, and its number
of stores. Leave one operator out, Spearman's rank correlation within the held-out tasks 0.58-0.83
(norms, whose builds all take 0.04 s: none); on what the learned agent measured on 6 unseen tasks
0.48-0.69, and 0.03 on gmm-512, whose slow builds it does not see coming (BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BuildTimeModel", "summary_features", "SHIPPED"]

SHIPPED = Path(__file__).parent / "pretrained" / "build_time.json"
PARAMS = {"max_depth": 4, "eta": 0.15, "subsample": 0.8, "nthread": 1, "seed": 0}
ROUNDS = 100


def summary_features(rows: Sequence[np.ndarray]) -> np.ndarray:
    """One vector per program: its per-store rows summed and maxed over stores, and the number of
    stores (a program's build time grows with all of its code, not with its heaviest store alone);
    log1p-compressed, as the features span orders of magnitude."""
    out = [np.concatenate([r.sum(0), r.max(0), [len(r)]]) for r in rows]
    return np.log1p(np.maximum(np.array(out, dtype=np.float64), 0.0))


class BuildTimeModel:
    """Log build seconds from ``summary_features``."""

    def __init__(self, booster: Any):
        self.booster = booster

    @classmethod
    def fit(cls, x: np.ndarray, log_seconds: np.ndarray) -> "BuildTimeModel":
        import xgboost as xgb

        return cls(xgb.train(PARAMS, xgb.DMatrix(x, label=log_seconds), ROUNDS))

    @classmethod
    def load(cls, path: "str | Path" = SHIPPED) -> "BuildTimeModel":
        import xgboost as xgb

        if not Path(path).is_file():
            raise FileNotFoundError(f"no build-time model at {path} (experiments/build_time_model.py --save makes one)")
        booster = xgb.Booster(params={"nthread": 1})
        booster.load_model(str(path))
        return cls(booster)

    def save(self, path: "str | Path") -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(path))

    def predict_features(self, x: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        return self.booster.predict(xgb.DMatrix(x))

    def predict_rows(self, rows: Sequence[np.ndarray]) -> np.ndarray:
        """Predicted log build seconds of programs given their per-store feature rows."""
        return self.predict_features(summary_features(rows))
