"""Pretrain the cost model on the shipped dataset, validated leave-one-operator-out against XGBoost.

For every operator in the dataset (GMM, C2D, DEP, ...): the MLP and MetaSchedule's XGBoost are
trained on the other operators' tasks only, then rank the held-out operator's measured candidates
(pairwise accuracy, top-1 and top-5: the best measured latency over the best latency among the
model's top k). Tasks named with ``--exclude`` (e.g. the bench's tasks) are left out of everything.
Then the MLP is trained on all of it and saved as package data (``cost_model=pretrained``), with a
JSON beside it saying what it was trained on and how it validated.

    python experiments/pretrain.py --exclude gmm-512,c2d,GMM/2,C2D/3,test --json experiments/results/pretrain.json \
        --save msgym/cost_models/pretrained/mlp.pt
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

from msgym._tvm import host_cpu, make_target
from msgym.cost_models import MLPCostModel
from msgym.cost_models.data import task_data
from msgym.cost_models.dataset import by_task, load, operator_of
from msgym.cost_models.evaluation import pairwise_accuracy, top_k_score
from msgym.cost_models.xgb import XGBCostModel
from msgym.measure.worker import kernel_threads
from msgym.space import design_spaces
from msgym.tasks import get_task
from msgym.tasks.sets import resolve


def task_sets(rows, cpu: str, threads: "int | None", exclude: set[str]) -> dict[str, tuple]:
    """task -> (task, spaces, measured [(space, decisions, latency)], TaskData) for one machine's rows
    of kernels on ``threads`` CPU threads (None: rows from before msgym set TVM's pool, one thread here)."""
    out = {}
    for (name, row_cpu, row_threads), task_rows in by_task(rows).items():
        if row_cpu != cpu or row_threads != threads or name in exclude:
            continue
        task = get_task(name)
        if task.key in {get_task(e).key for e in exclude}:
            continue
        spaces = design_spaces(task)
        measured = [(r.space, r.decisions, r.latency_s) for r in task_rows]
        out[name] = (task, spaces, measured, task_data(spaces, measured, task_rows[0].baseline_s))
    return out


def train_models(train: list[tuple]) -> tuple[MLPCostModel, XGBCostModel]:
    mlp, xgb = MLPCostModel(), XGBCostModel()
    mlp.fit([d for *_, d in train])
    for _task, spaces, measured, _data in train:
        xgb.update(spaces, [(s, d) for s, d, _ in measured], [lat for *_, lat in measured], 1.0)
    return mlp, xgb


def score(mlp: MLPCostModel, xgb: XGBCostModel, held: tuple) -> dict:
    import numpy as np

    task, spaces, measured, data = held
    latency = np.array([lat for *_, lat in measured])
    # Every row was measured, so every candidate replays: the rows line up with the latencies.
    assert len(data.rows) == len(latency), f"{task.name}: a measured candidate no longer replays"
    preds = {"mlp": mlp.predict_rows(data.rows), "xgb": xgb.predict(spaces, [(s, d) for s, d, _ in measured])}
    return {
        f"{m}_{name}": fn(p, latency)
        for m, p in preds.items()
        for name, fn in (
            ("pairwise", pairwise_accuracy),
            ("top1", lambda p, y: top_k_score(p, y, 1)),
            ("top5", lambda p, y: top_k_score(p, y, 5)),
        )
    }


def _threads(value: str) -> "int | None":
    if value.lower() == "none":
        return None
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"--threads: a positive number of threads or 'none', got {value!r}")
    return int(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", help="dataset files besides the shipped ones")
    parser.add_argument("--cpu", default=None, help="whose rows (LLVM mcpu; default: this machine's)")
    parser.add_argument(
        "--threads",
        default=None,
        help="rows of kernels on this many CPU threads (default: this machine's cores, as kernels run now; "
        "'none': rows written before msgym set TVM's pool)",
    )
    parser.add_argument("--exclude", default="", help="tasks or sets left out of training and validation")
    parser.add_argument("--json", default=None)
    parser.add_argument("--save", default=None, help="save the MLP trained on everything here")
    args = parser.parse_args()
    cpu = args.cpu or host_cpu()
    threads = kernel_threads(make_target(None)) if args.threads is None else _threads(args.threads)
    exclude = {t for part in args.exclude.split(",") if part for t in resolve(part)}
    tasks = task_sets(load(args.data), cpu, threads, exclude)
    operators = sorted({operator_of(name) for name in tasks})
    print(f"{sum(len(t[2]) for t in tasks.values())} candidates of {len(tasks)} tasks, operators {operators}")
    per_operator = {}
    for op in operators:
        train = [t for name, t in tasks.items() if operator_of(name) != op]
        held = {name: t for name, t in tasks.items() if operator_of(name) == op}
        if not train:
            continue
        t0 = time.perf_counter()
        mlp, xgb = train_models(train)
        per_task = {name: score(mlp, xgb, t) for name, t in held.items()}
        per_operator[op] = {
            key: statistics.fmean(s[key] for s in per_task.values()) for key in next(iter(per_task.values()))
        }
        per_operator[op]["tasks"] = per_task
        per_operator[op]["train_s"] = time.perf_counter() - t0
        print(op, {k: round(v, 3) for k, v in per_operator[op].items() if isinstance(v, float)})
    keys = ("mlp_pairwise", "xgb_pairwise", "mlp_top1", "xgb_top1", "mlp_top5", "xgb_top5")
    summary = {key: statistics.fmean(p[key] for p in per_operator.values()) for key in keys}
    print("mean over held-out operators:", {k: round(v, 3) for k, v in summary.items()})
    out = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"mcpu={host_cpu()}",
        "data_cpu": cpu,
        "data_threads": threads,
        "date": datetime.date.today().isoformat(),
        "tasks": sorted(tasks),
        "excluded": sorted(exclude),
        "candidates": sum(len(t[2]) for t in tasks.values()),
        "leave_one_operator_out": per_operator,
        **summary,
    }
    if args.save:
        model = MLPCostModel()
        model.fit([t[3] for t in tasks.values()])
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        model.save(args.save)
        saved = ("command", "data_cpu", "data_threads", "date", "tasks", "excluded", "candidates", *keys)
        meta = {k: out[k] for k in saved}
        Path(args.save).with_suffix(".json").write_text(json.dumps(meta, indent=1))
        print(f"saved {args.save}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
