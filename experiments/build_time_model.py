"""Train the build-time model: how long a candidate takes to build, from its per-store features.

Why: a learned search's wall time on a 2-core machine is mostly its candidates' builds (LLVM's
back end on large vectorized inner tiles: 1-2 s for some GEMM 512 kernels where most take 0.05-0.1
s), and the slow builds are seldom the fast kernels (BENCHMARKS.md, "Issue 14: builds predicted").
The learned agent leaves the costliest-predicted share of each batch unmeasured (``build_drop``).

Data: the shipped dataset's candidates (``--per-task`` of each task, ``--exclude``'d tasks left
out: the benchmarks' tasks) and the first batch the learned agent's search draws on each of those
tasks (``--search-per-task``: the good kernels a search ranks, which the dataset covers poorly), each
built here two at a time, like the measurer builds (``msgym.measure.worker.build``: TVM's build and
the export to a shared library; a build past 60 s, the measurer's timeout, counts as 60 s). Validation:
leave one operator out (Spearman's rank correlation of predicted and measured build seconds within
the held-out tasks), and the same against this machine's record store for ``--check-tasks`` (their
build seconds as the measurer recorded them; none of them in the training data). Then one model on
all of it, saved as package data (``--save``), a JSON beside it.

    python experiments/build_time_model.py --exclude GMM/2,C2D/2 --check-tasks gmm-512,bmm,c2d,CBR/2,GRP/2,TBG/0 \
        --check-runs 'runs_z5g/*__learned__seed*' --save msgym/cost_models/pretrained/build_time.json \
        --json experiments/results/build_time_model.json
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import write_json

from msgym._tvm import host_cpu
from msgym.cost_models.build_time import BuildTimeModel, summary_features
from msgym.cost_models.data import feature_rows, final_programs
from msgym.cost_models.dataset import load, operator_of
from msgym.measure import TimingConfig
from msgym.search.verify import candidate_key
from msgym.space import design_spaces
from msgym.tasks import get_task


def _build(job: tuple[str, str, str]) -> float:
    from msgym.measure.worker import build

    mod_json, target, path = job
    try:
        return build(mod_json, target, path)
    finally:
        for p in Path(path).parent.glob(Path(path).name + "*"):
            p.unlink(missing_ok=True)


def _init() -> None:
    sys.modules["torch"] = None  # type: ignore[assignment]  # as the measurer's workers: TVM imports faster


BUILD_TIMEOUT_S = TimingConfig().build_timeout_s  # the measurer's: a build past it counts as this long (censored)


class Builders:
    """``workers`` build processes; a build past ``BUILD_TIMEOUT_S`` is abandoned (its pool replaced)
    and counted as the timeout, as the measurer would stop it there."""

    def __init__(self, workers: int):
        self.workers = workers
        self.pool = self._start()

    def _start(self):
        return multiprocessing.get_context("spawn").Pool(self.workers, initializer=_init)

    def map(self, jobs: list) -> list[float]:
        pending = [self.pool.apply_async(_build, (job,)) for job in jobs]
        out = []
        for k, result in enumerate(pending):
            try:
                out.append(result.get(BUILD_TIMEOUT_S))
            except multiprocessing.TimeoutError:
                out.append(BUILD_TIMEOUT_S)
                self.pool.terminate()
                self.pool = self._start()
                return out + self.map(jobs[k + 1 :])
        return out

    def close(self) -> None:
        self.pool.terminate()


def built(names: list[str], workers: int, programs_of: Callable[[Any], tuple[list, list]], label: str) -> dict:
    """task -> (features, log build seconds) of the programs ``programs_of(task)`` gives (their
    per-store feature rows, their modules), built here two at a time, as the measurer builds."""
    import tvm

    out = {}
    scratch = tempfile.TemporaryDirectory(prefix="msgym-build-time-")  # the built .so files, removed after
    tmp = scratch.name
    pool = Builders(workers)
    try:
        for name in names:
            task = get_task(name)
            rows, mods = programs_of(task)
            jobs = [(tvm.ir.save_json(m), str(task.target), os.path.join(tmp, f"{k}.so")) for k, m in enumerate(mods)]
            t0 = time.perf_counter()
            seconds = pool.map(jobs)
            out[name] = (summary_features(rows), np.log(np.array(seconds)))
            took = time.perf_counter() - t0
            print(f"{name}{label}: {len(jobs)} built in {took:.1f} s, median {np.median(seconds):.3f} s", flush=True)
    finally:
        pool.close()
        scratch.cleanup()
    return out


def dataset_builds(names: list[str], per_task: int, seed: int, workers: int) -> dict[str, tuple]:
    """task -> (features, log build seconds) of ``per_task`` of its shipped candidates, built here."""
    by = collections.defaultdict(dict)  # task -> its distinct candidates (the files share some)
    for r in load():
        if r.task in names:
            by[r.task][json.dumps([r.space, r.decisions])] = r

    def programs_of(task: Any) -> tuple[list, list]:
        spaces = design_spaces(task)
        distinct = [by[task.name][k] for k in sorted(by[task.name])]
        picked = random.Random(seed).sample(distinct, min(per_task, len(distinct)))
        programs = [p for p in final_programs(spaces, [(r.space, r.decisions) for r in picked]) if p is not None]
        return feature_rows(spaces, programs), [p.sch.mod for p in programs]

    return built(names, workers, programs_of, "")


def search_builds(names: list[str], per_task: int, seed: int, workers: int) -> dict[str, tuple]:
    """task -> (features, log build seconds) of ``per_task`` candidates the learned agent's search
    draws on it (its first batch, nothing measured), built here: the kernels the model has to rank
    in a search are good ones, whose build times the dataset's more random candidates cover poorly."""
    from msgym.search import SearchContext, create

    def programs_of(task: Any) -> tuple[list, list]:
        agent = create("learned", num_trials_per_iter=per_task, build_drop=0.0)
        agent.setup(SearchContext(design_spaces(task), seed, trials=per_task, baseline_s=1.0))
        try:
            drawn = agent._draw() or []
            rows = [agent.features.rows(agent.contexts[i], [mc])[0] for i, mc in drawn]
            return rows, [mc.sch.mod for _, mc in drawn]
        finally:
            agent.close()

    return built(names, workers, programs_of, " (search)")


def stored_build_seconds(names: "set[str]") -> dict[str, dict[str, float]]:
    """task -> {candidate (``verify.candidate_key``): build seconds} of ``names``' candidates in this
    machine's record store (this CPU's records; the last of a candidate's)."""
    from msgym.measure import default_store

    cpu = host_cpu()
    out: dict[str, dict[str, float]] = collections.defaultdict(dict)
    with open(default_store()) as f:
        for line in f:
            r = json.loads(line)
            build_s = (r.get("result") or {}).get("build_s")
            if r["task"] in names and r.get("space") is not None and build_s:
                if json.loads(r["target"]).get("mcpu") == cpu:
                    out[r["task"]][candidate_key(r)] = build_s
    return out


def replayed(name: str, keys: list[str], seconds: dict[str, float]) -> tuple:
    """(features, log build seconds) of ``name``'s candidates ``keys`` (those that replay)."""
    spaces = design_spaces(get_task(name))
    programs = final_programs(spaces, [tuple(json.loads(k)[:2]) for k in keys])
    ok = [i for i, p in enumerate(programs) if p is not None]
    x = summary_features(feature_rows(spaces, [programs[i] for i in ok]))
    return x, np.log(np.array([seconds[keys[i]] for i in ok]))


def run_builds(pattern: str) -> dict[str, tuple]:
    """task -> (features, log build seconds) of the candidates that search runs (their run folders,
    ``pattern`` a glob) measured, their build seconds from this machine's record store."""
    import glob

    found = collections.defaultdict(list)
    for folder in sorted(glob.glob(pattern)):
        with open(os.path.join(folder, "records.jsonl")) as f:
            for line in f:
                r = json.loads(line)
                found[r["task"]].append(candidate_key(r))
    seconds = stored_build_seconds(set(found))
    return {
        name: replayed(name, [k for k in keys if k in seconds[name]], seconds[name]) for name, keys in found.items()
    }


def store_builds(names: list[str], per_task: int, seed: int) -> dict[str, tuple]:
    """task -> (features, log build seconds) of ``per_task`` candidates this machine's record store measured."""
    seconds = stored_build_seconds(set(names))
    out = {}
    for name in names:
        keys = sorted(seconds[name])
        if keys:
            out[name] = replayed(name, random.Random(seed).sample(keys, min(per_task, len(keys))), seconds[name])
    return out


def check(model: BuildTimeModel, x: np.ndarray, y: np.ndarray) -> dict:
    pred = model.predict_features(x)
    return {
        "candidates": len(y),
        "spearman": spearman(pred, y),
        "costliest_quarter_share": costliest_share(pred, y, 0.25),
    }


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def costliest_share(pred: np.ndarray, y: np.ndarray, share: float) -> float:
    """The share of the build seconds that the ``share`` costliest-predicted candidates take."""
    flagged = pred > np.quantile(pred, 1 - share)
    return float(np.exp(y[flagged]).sum() / np.exp(y).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exclude", default="GMM/2,C2D/2")
    parser.add_argument("--check-tasks", default="gmm-512,bmm,c2d,CBR/2,GRP/2,TBG/0")
    parser.add_argument("--per-task", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--search-per-task", type=int, default=96, help="candidates the learned search draws per task (0: none)"
    )
    parser.add_argument(
        "--check-runs", default=None, help="a glob of run folders whose measured candidates are checked too"
    )
    parser.add_argument("--save", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    exclude = {get_task(e).key for e in args.exclude.split(",") if e}
    names = sorted({r.task for r in load()})
    names = [n for n in names if get_task(n).key not in exclude]
    data = dataset_builds(names, args.per_task, args.seed, args.workers)
    if args.search_per_task:
        searched = search_builds(names, args.search_per_task, args.seed, args.workers)
        data = {n: tuple(np.concatenate([a, b]) for a, b in zip(data[n], searched[n])) for n in data}

    held_out = {}
    for op in sorted({operator_of(n) for n in data}):
        train = [n for n in data if operator_of(n) != op]
        model = BuildTimeModel.fit(
            np.concatenate([data[n][0] for n in train]), np.concatenate([data[n][1] for n in train])
        )
        rhos = [spearman(model.predict_features(data[n][0]), data[n][1]) for n in data if operator_of(n) == op]
        held_out[op] = float(np.mean(rhos))
        print(f"held out {op}: Spearman {held_out[op]:.2f}", flush=True)

    model = BuildTimeModel.fit(
        np.concatenate([d[0] for d in data.values()]), np.concatenate([d[1] for d in data.values()])
    )
    checks = {}
    for name, (x, y) in store_builds([n for n in args.check_tasks.split(",") if n], 250, args.seed).items():
        checks[name] = check(model, x, y)
        print(f"store {name}: {checks[name]}", flush=True)
    for name, (x, y) in (run_builds(args.check_runs) if args.check_runs else {}).items():
        checks[f"runs:{name}"] = check(model, x, y)
        print(f"runs {name}: {checks[f'runs:{name}']}", flush=True)
    meta = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"mcpu={host_cpu()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "trained_on": {n: len(d[1]) for n, d in data.items()},
        "median_build_s": {n: float(np.exp(np.median(d[1]))) for n, d in data.items()},
        "held_out_operator_spearman": held_out,
        "store_checks": checks,
    }
    if args.save:
        model.save(args.save)
        Path(args.save).with_suffix(".meta.json").write_text(json.dumps(meta, indent=1))
    if args.json:
        write_json(meta, args.json)
    print(json.dumps({k: v for k, v in meta.items() if k not in ("trained_on", "median_build_s")}, indent=1))


if __name__ == "__main__":
    main()
