"""Benchmark: msgym's measurement against MetaSchedule's LocalBuilder + LocalRunner.

The same distinct valid candidates (random walks of GEMM 512 and conv2d design spaces) go through
(a) a fresh msgym ``Measurer`` and (b) MetaSchedule's ``LocalBuilder`` + ``LocalRunner`` with their
defaults (one batch per task, its best case), in the same run. Reports wall seconds per candidate
for each (worker start-up included on both sides), their ratio, the median and spread of the
per-candidate latency ratio msgym / MetaSchedule, the CV of repeated measurement of one GEMM 512
kernel, and the cache lookup time.

    python experiments/bench_measure.py --json experiments/results/measure.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time

from msgym._tvm import host_cores, host_cpu, load_tensor_intrinsics, make_target, ms, use_threads
from msgym.envs.outcome import measure_candidates
from msgym.measure import Measurer
from msgym.space import design_spaces
from msgym.tasks import get_task


def sample_candidates(task_name: str, n: int, seed: int) -> list[tuple[int, list]]:
    return design_spaces(get_task(task_name)).sample_distinct(random.Random(seed), n)


def run_msgym(tasks: dict[str, list], overlap: bool | None = None) -> tuple[float, dict]:
    measurer = Measurer(overlap=overlap)
    start = time.perf_counter()
    results = {}
    for name, cands in tasks.items():
        task = get_task(name)
        results[name] = measure_candidates(measurer, design_spaces(task), cands)
    wall = time.perf_counter() - start
    lookups = []
    for name, cands in tasks.items():
        task = get_task(name)
        for cand in cands:
            t0 = time.perf_counter()
            measurer.lookup(task, *cand)
            lookups.append(time.perf_counter() - t0)
    measurer.close()
    return wall, {
        "results": results,
        "lookup_ms_max": max(lookups) * 1e3,
        "lookup_ms_median": statistics.median(lookups) * 1e3,
    }


def run_metaschedule(tasks: dict[str, list]) -> tuple[float, dict]:
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo

    # Stock LocalBuilder workers import tvm.s_tir.tensor_intrin (~80 s here with torch loaded) inside
    # the 30 s build timeout, so every build fails (see stock_builder_error). Its workers get
    # msgym's fast import as their initializer: the pipeline as a user here would have to run it.
    builder = ms.builder.LocalBuilder(initializer=load_tensor_intrinsics)
    use_threads(host_cores(make_target(None)))  # its runner's workers on the target's cores, as msgym's
    runner = ms.runner.LocalRunner()
    start = time.perf_counter()
    latencies, build_s, run_s = {}, 0.0, 0.0
    for name, cands in tasks.items():
        task = get_task(name)
        spaces = design_spaces(task)
        mods = [spaces.program(s, d).mod for s, d in cands]
        t0 = time.perf_counter()
        built = builder.build([ms.builder.BuilderInput(m, task.target) for m in mods])
        t1 = time.perf_counter()
        args_info = ArgInfo.from_prim_func(task.func)
        inputs = [ms.runner.RunnerInput(b.artifact_path, "cpu", args_info) for b in built if b.error_msg is None]
        futures = runner.run(inputs)
        secs = [f.result().run_secs for f in futures]
        t2 = time.perf_counter()
        build_s, run_s = build_s + t1 - t0, run_s + t2 - t1
        it = iter(secs)
        latencies[name] = [None if b.error_msg else _mean(next(it)) for b in built]
    wall = time.perf_counter() - start
    return wall, {"latencies": latencies, "build_s": build_s, "run_s": run_s}


def stock_builder_error(task_name: str) -> str | None:
    """What MetaSchedule's LocalBuilder, as shipped, says about one candidate here."""
    task = get_task(task_name)
    spaces = design_spaces(task)
    [cand] = sample_candidates(task_name, 1, seed=0)
    [built] = ms.builder.LocalBuilder().build([ms.builder.BuilderInput(spaces.program(*cand).mod, task.target)])
    return built.error_msg


def _mean(run_secs) -> float | None:
    values = [float(x) for x in run_secs] if run_secs is not None else []
    return statistics.fmean(values) if values else None


def repeated_cv(task_name: str, cand: tuple[int, list], repeats: int) -> dict:
    """Spread between repeated measurements (separate calls) of one kernel."""
    task = get_task(task_name)
    spaces = design_spaces(task)
    measurer = Measurer()
    program = spaces.program(*cand).mod
    medians, costs = [], []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        medians.append(measurer.measure(task, program, use_cache=False).latency_s)
        costs.append(time.perf_counter() - t0)
    measurer.close()
    medians, costs = medians[1:], costs[1:]  # the first pays for the worker start
    return {
        "candidate": cand,
        "latency_ms": statistics.median(medians) * 1e3,
        "cv": statistics.pstdev(medians) / statistics.fmean(medians),
        "wall_ms_per_measurement": statistics.median(costs) * 1e3,
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="gmm-512,c2d")
    parser.add_argument("--per-task", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cv-repeats", type=int, default=10)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    tasks = {name: sample_candidates(name, args.per_task, args.seed) for name in args.tasks.split(",")}
    n = sum(len(c) for c in tasks.values())
    ms_wall, ms_out = run_metaschedule(tasks)
    our_wall, our_out = run_msgym(tasks)  # this machine's policy (overlap only on > 2 cores)
    overlap_wall, overlap_out = run_msgym(tasks, overlap=True)  # builds overlapping runs, forced
    ratios, overlap_ratios, errors = [], [], {"msgym": 0, "metaschedule": 0}
    for name in tasks:
        for ours, over, theirs in zip(
            our_out["results"][name], overlap_out["results"][name], ms_out["latencies"][name]
        ):
            errors["msgym"] += not ours.ok
            errors["metaschedule"] += theirs is None
            if ours.ok and theirs:
                ratios.append(ours.latency_s / theirs)
            if ours.ok and over.ok:
                overlap_ratios.append(over.latency_s / ours.latency_s)
    # The CV kernel: the fastest GEMM 512 candidate (a kernel a user would keep, not a random one).
    gmm = next(name for name in tasks if name.startswith("gmm"))
    fastest = min(range(len(tasks[gmm])), key=lambda i: our_out["results"][gmm][i].latency_s or float("inf"))
    cv = repeated_cv(gmm, tasks[gmm][fastest], args.cv_repeats)
    stock_error = stock_builder_error("gmm-512")
    out = {
        "command": " ".join(["python"] + sys.argv),
        "machine": f"mcpu={host_cpu()}",
        "candidates": n,
        "tasks": list(tasks),
        "msgym_s_per_candidate": our_wall / n,
        "metaschedule_s_per_candidate": ms_wall / n,
        "speedup": ms_wall / our_wall,
        "metaschedule_build_s": ms_out["build_s"],
        "metaschedule_run_s": ms_out["run_s"],
        "latency_ratio_median": statistics.median(ratios),
        "latency_ratio_p10_p90": [
            sorted(ratios)[int(0.1 * (len(ratios) - 1))],
            sorted(ratios)[int(0.9 * (len(ratios) - 1))],
        ],
        "compared": len(ratios),
        "errors": errors,
        # Where msgym's time goes, per candidate: building (+ linking), running (the output check,
        # then the timed repeats), and the kernels' own latency (which bounds any runner).
        "msgym_build_s_mean": statistics.fmean(r.build_s for rs in our_out["results"].values() for r in rs),
        "msgym_run_s_mean": statistics.fmean(r.run_s for rs in our_out["results"].values() for r in rs),
        "kernel_latency_s_mean": statistics.fmean(
            r.latency_s for rs in our_out["results"].values() for r in rs if r.ok
        ),
        "overlap_s_per_candidate": overlap_wall / n,
        "overlap_latency_ratio_median": statistics.median(overlap_ratios),
        "overlap_latency_ratio_p10_p90": [
            sorted(overlap_ratios)[int(0.1 * (len(overlap_ratios) - 1))],
            sorted(overlap_ratios)[int(0.9 * (len(overlap_ratios) - 1))],
        ],
        "cv": cv["cv"],
        "cv_detail": cv,
        "lookup_ms_median": our_out["lookup_ms_median"],
        "lookup_ms_max": our_out["lookup_ms_max"],
        "stock_builder_error": stock_error,
    }
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
