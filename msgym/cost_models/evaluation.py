"""Held-out evaluation of cost models: train on some tasks, rank the candidates of others.

Split by task, never by candidate. Metrics, per held-out task, then averaged:

* pairwise ranking accuracy (TenSet): over the pairs of candidates with different latencies, the
  fraction the model orders like the measurements;
* top-k score (TVM): the best measured latency of the task over the measured latency of the best
  among the k candidates the model ranks highest (1.0 = the model's top k hold the best).
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from msgym.cost_models.data import TaskData, check_trainable, feature_rows, final_programs, task_data
from msgym.cost_models.mlp import MLPCostModel
from msgym.cost_models.xgb import XGBCostModel
from msgym.space import design_spaces
from msgym.tasks import get_task


def pairwise_accuracy(pred: np.ndarray, latency: np.ndarray) -> float:
    good = total = 0
    for i, j in itertools.combinations(range(len(pred)), 2):
        if latency[i] == latency[j]:
            continue
        total += 1
        good += (pred[i] > pred[j]) == (latency[i] < latency[j])
    return good / total if total else float("nan")


def top_k_score(pred: np.ndarray, latency: np.ndarray, k: int) -> float:
    top = np.argsort(-pred, kind="stable")[:k]
    return float(latency.min() / latency[top].min())


def measured(task: Any, measurer: Any) -> list[tuple[int, Any, float]]:
    """Successful measurements of a task in the measurer's store: (space, decisions, latency)."""
    return [(e.space, e.decisions, e.result.latency_s) for e in measurer.successes(task)]


def evaluate(
    train_tasks: Sequence[str],
    test_tasks: Sequence[str],
    measurer: Any,
    mlp: MLPCostModel | None = None,
    progress: bool = True,
) -> dict:
    """Train the MLP and MetaSchedule's XGBoost on ``train_tasks``; score both on ``test_tasks``."""
    if set(train_tasks) & set(test_tasks):
        raise ValueError(f"train and test tasks overlap: {sorted(set(train_tasks) & set(test_tasks))}")
    load = {name: _load(name, measurer) for name in [*train_tasks, *test_tasks]}
    train = [load[n] for n in train_tasks]
    check_trainable([d for _, _, d in train])
    mlp = mlp or MLPCostModel()
    xgb = XGBCostModel()

    t0 = time.perf_counter()
    fit = mlp.fit([d for _, _, d in train])
    mlp_train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for task, rows, _ in train:
        xgb.update(
            design_spaces(task),
            [(s, d) for s, d, _ in rows],
            [lat for _, _, lat in rows],
            measurer.baseline(task).latency_s,
        )
    xgb_train_s = time.perf_counter() - t0

    per_task = {}
    for name in test_tasks:
        task, rows, data = load[name]
        spaces = design_spaces(task)
        latency = np.array([lat for _, _, lat in rows])
        pred = {"mlp": mlp.predict_rows(data.rows), "xgb": xgb.predict(spaces, [(s, d) for s, d, _ in rows])}
        per_task[name] = {
            "candidates": len(rows),
            **{
                f"{m}_{metric}": value
                for m, p in pred.items()
                for metric, value in (
                    ("pairwise", pairwise_accuracy(p, latency)),
                    ("top1", top_k_score(p, latency, 1)),
                    ("top5", top_k_score(p, latency, 5)),
                )
            },
        }
    out = {
        "train_tasks": list(train_tasks),
        "test_tasks": list(test_tasks),
        "train_candidates": sum(len(d) for _, _, d in train),
        "per_task": per_task,
        "mlp_train_s": mlp_train_s,
        "xgb_train_s": xgb_train_s,
        "mlp_fit": fit,
    }
    for key in ("mlp_pairwise", "xgb_pairwise", "mlp_top1", "xgb_top1", "mlp_top5", "xgb_top5"):
        out[key] = statistics.fmean(t[key] for t in per_task.values())
    out.update(_throughput(mlp, load[test_tasks[0]]))
    return out


def _load(name: str, measurer: Any) -> tuple[Any, list, TaskData]:
    task = get_task(name)
    rows = measured(task, measurer)
    data = task_data(design_spaces(task), rows, measurer.baseline(task).latency_s)
    return task, rows, data


def _throughput(mlp: MLPCostModel, loaded: tuple[Any, list, TaskData], n: int = 512) -> dict:
    """Predictions per second on feature rows; and scoring n candidates from scratch (replay to
    final programs, feature extraction, prediction)."""
    task, rows, data = loaded
    batch = (data.rows * (n // max(1, len(data.rows)) + 1))[:n]
    mlp.predict_rows(batch)  # warm-up
    t0 = time.perf_counter()
    reps = 20
    for _ in range(reps):
        mlp.predict_rows(batch)
    per_s = reps * n / (time.perf_counter() - t0)
    cands = [(s, d) for s, d, _ in (rows * (n // max(1, len(rows)) + 1))[:n]]
    spaces = design_spaces(task)
    t0 = time.perf_counter()
    mcs = final_programs(spaces, cands)
    t1 = time.perf_counter()
    feats = feature_rows(spaces, mcs)
    t2 = time.perf_counter()
    mlp.predict_rows(feats)
    t3 = time.perf_counter()
    return {
        "mlp_predictions_per_s": per_s,
        "score_512_s": t3 - t0,
        "score_512_replay_s": t1 - t0,
        "score_512_features_s": t2 - t1,
        "score_512_predict_s": t3 - t2,
        "throughput_task": task.name,
    }
