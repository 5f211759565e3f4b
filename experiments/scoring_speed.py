"""How fast 512 candidates are scored, from a point of the design space to a prediction.

Two paths, same task, same MLP (the pretrained one):

* msgym's Python path (the evolutionary agent's): decisions replayed into a schedule one at a time,
  the target's postprocessors, per-store features, one batched prediction.
* the learned agent's path (MetaSchedule's search in C++): 512 schedules sampled from the design
  space by TVM (``sample_init_population``'s way: trace replay on its thread pool), postprocessed in
  C++, per-store features extracted on its threads, one batched prediction.

And where the time goes (``parts``): each step's milliseconds per candidate on one thread.

    python experiments/scoring_speed.py --task gmm-512 --json experiments/results/scoring_speed.json
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from common import emit

from msgym._tvm import host_cpu, load_tensor_intrinsics, ms
from msgym.cost_models import create
from msgym.cost_models.data import feature_rows, final_programs
from msgym.space import design_spaces
from msgym.tasks import get_task


def python_path(task, model, n: int) -> float:
    spaces = design_spaces(task)
    cands = [spaces.sample(random.Random(i)) for i in range(n)]
    cands = [c for c in cands if c is not None]
    t0 = time.perf_counter()
    programs = final_programs(spaces, cands)
    model.predict_rows(feature_rows(spaces, [p for p in programs if p is not None]))
    return (time.perf_counter() - t0) * n / len(cands)


def parts(task, n: int) -> dict:
    """Milliseconds per candidate of each step of scoring, on one thread (``n`` uniform walks of the
    design space): trace replay, each postprocessor, per-store feature extraction, structural hashing
    (the feature cache's key). Why: MetaSchedule's search does replay and postprocessing in C++ before
    any cost model is asked, so their sum over the cores bounds what any model's scoring can reach."""
    import tvm_ffi

    from msgym.features import measure_candidate

    spaces = design_spaces(task)
    cands = [c for c in (spaces.sample(random.Random(i)) for i in range(n)) if c is not None]
    seconds: dict[str, float] = {}

    def add(step: str, t0: float) -> None:
        seconds[step] = seconds.get(step, 0.0) + time.perf_counter() - t0

    programs = []
    for space, decisions in cands:
        t0 = time.perf_counter()
        sch = spaces.schedule(space, decisions)  # replayed, TVM's reading of the decisions checked
        add("replay", t0)
        for postproc in spaces.postprocs:
            t0 = time.perf_counter()
            postproc.apply(sch)
            add(f"postproc/{type(postproc).__name__}", t0)
        programs.append(sch)
    mcs = [measure_candidate(sch) for sch in programs]
    t0 = time.perf_counter()
    spaces.features.extractor.extract_from(spaces.context, mcs)  # the design spaces' context: 1 thread
    add("features", t0)
    t0 = time.perf_counter()
    for sch in programs:
        tvm_ffi.structural_hash(sch.mod)
    add("hash", t0)
    per = {k: 1e3 * v / len(cands) for k, v in seconds.items()}
    per["replay_and_postprocs"] = per["replay"] + sum(v for k, v in per.items() if k.startswith("postproc/"))
    return {"candidates": len(cands), "ms_per_candidate_one_thread": per}


def metaschedule_path(task, model, n: int) -> dict:
    """One batch of MetaSchedule's evolutionary search with the MLP as its cost model: it samples
    its initial population, evolves it (mutation, postprocessing, features, prediction, all but the
    prediction in C++ on its threads). Counted: candidates scored and the batch's wall time;
    reported per ``n`` scored."""
    from msgym.cost_models.metaschedule import metaschedule_cost_model

    load_tensor_intrinsics()
    scored = [0]
    predict_rows = model.predict_rows

    def counting(rows):  # the adapter's one call per batch of candidates it scores
        scored[0] += len(rows)
        return predict_rows(rows)

    model.predict_rows = counting
    cost_model = metaschedule_cost_model(model, baseline_s=1.0)
    context = ms.TuneContext(
        mod=task.mod,
        target=task.target,
        space_generator="post-order-apply",
        search_strategy=ms.search_strategy.EvolutionarySearch(population_size=512),
        task_name=task.name,
        rand_state=0,
        num_threads="physical",
    )
    database = ms.database.MemoryDatabase()
    database.commit_workload(task.mod)
    context.pre_tuning(
        max_trials=64,
        num_trials_per_iter=16,
        design_spaces=context.generate_design_space(),
        database=database,
        cost_model=cost_model,
    )
    t0 = time.perf_counter()
    batch = context.generate_measure_candidates()
    wall = time.perf_counter() - t0
    context.post_tuning()
    return {"batch_s": wall, "scored": scored[0], "per_n_s": wall * n / max(1, scored[0]), "proposed": len(batch)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="gmm-512")
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--model", default="pretrained", help="the MLP: pretrained, or a saved one (.pt)")
    parser.add_argument("--torch-threads", type=int, default=0, help="torch's intra-op threads (0: its default)")
    parser.add_argument("--parts", type=int, default=200, help="candidates for the per-step breakdown")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    task = get_task(args.task)
    model = create(args.model)
    out = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"mcpu={host_cpu()}",
        "task": args.task,
        "n": args.n,
        "torch_threads": args.torch_threads or "default",
        "python_path_s": python_path(task, model, args.n),
        "metaschedule_path": metaschedule_path(task, model, args.n),
        "parts": parts(task, args.parts),
    }
    emit(out, args.json)


if __name__ == "__main__":
    main()
