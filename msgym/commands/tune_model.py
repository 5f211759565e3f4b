"""``msgym tune-model``: tune every task of a PyTorch model and measure what it buys end to end.

The trial budget is spread over the model's tunable tasks (those with more than one candidate)
like MetaSchedule's gradient task scheduler: first a batch for each task, then each batch goes
to the task whose tuning could save the most model time, estimated as weight x best latency x
(1 + its relative improvement over its last batch), so tasks that are heavy or still improving
get more trials. Everything is measured through the measurement layer (records in its store).
The best schedule of each task goes into a MetaSchedule database (kept in ``work_dir/msgym_db`` when
a ``work_dir`` is given, otherwise in a scratch folder removed at the end); the model is compiled with it
(``compile_relax``), its output checked against PyTorch's on the same input, and timed next to
the untuned TVM build and PyTorch eager on the same CPU threads. ``with_metaschedule`` also runs
MetaSchedule's own ``tune_relax`` / ``compile_relax`` at the same total trials, side by side.

Verified verdicts: each task's best few candidates are re-timed in ``verify_rounds`` passes
(``verified_latency_s`` per task), and the end-to-end figures are taken the same way: every build
(and PyTorch eager) timed once per pass, in a seeded shuffled order, the minimum over all passes'
repeats, with its interval. ``fast_p`` (KernelBench's, p = 1.0 and 0.8) of the model end to end
against PyTorch eager and, with ``with_metaschedule``, against MetaSchedule at the same trials.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from msgym._tvm import host_cores, is_gpu, load_tensor_intrinsics, make_target, ms, tvm, use_threads
from msgym.commands.references import P_VALUES
from msgym.extended_space import packed_module
from msgym.measure import Measurer
from msgym.measure.worker import run_lock
from msgym.search import DEFAULT_AGENT, Search
from msgym.search.database import write_database
from msgym.search.verify import time_interleaved
from msgym.space import design_spaces
from msgym.stats import fast_p
from msgym.tasks import get_task
from msgym.tasks.torch_import import import_model, relax_program

RTOL, ATOL = 1e-3, 1e-3


def tune_model(
    spec: str,
    measurer: Measurer,
    shapes: "list[tuple[int, ...]] | None" = None,
    agent: str = DEFAULT_AGENT,
    trials: int = 64,
    seed: int = 0,
    batch: int = 8,
    with_metaschedule: bool = False,
    work_dir: "str | Path | None" = None,
    progress: bool = True,
    agent_options: dict | None = None,
    verify_rounds: int = 3,
    target: "str | None" = None,
    space: str = "default",
    max_trials_per_task: "int | None" = None,
) -> dict:
    if not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be a positive integer, got {trials!r}")
    if max_trials_per_task is not None and (not isinstance(max_trials_per_task, int) or max_trials_per_task < 1):
        raise ValueError(f"max_trials_per_task must be a positive integer or None, got {max_trials_per_task!r}")
    if target is not None and is_gpu(make_target(target)):
        raise ValueError(
            "tune-model builds and times whole models on this CPU only for now (a GPU build of the untuned "
            "model and PyTorch's on the GPU are not written yet); tune the model's tasks on the GPU with "
            "msgym bench --target cuda --tasks models, or msgym tune --target cuda --task 'torch:...'"
        )
    kept = work_dir is not None  # the tuned database is what a user deploys; else nothing stays in /tmp
    with contextlib.ExitStack() as stack:
        work_dir = Path(work_dir if kept else stack.enter_context(tempfile.TemporaryDirectory(prefix="msgym-model-")))
        key = tuple(tuple(s) for s in shapes) if shapes else None
        program = relax_program(spec, key)
        imported = import_model(spec, shapes, target=target)
        tasks = [dataclasses.replace(mt, task=get_task(mt.task, space=space)) for mt in imported]
        target = tasks[0].task.target if tasks else make_target(None)

        tunable = [mt for mt in tasks if sum(design_spaces(mt.task).sizes) > 1]
        t0 = time.perf_counter()
        per_task = min(trials, max_trials_per_task or trials)  # a search is done at its own budget
        searches = {
            mt.operator: Search(
                mt.task, agent, per_task, seed, measurer=measurer, progress=False, agent_options=agent_options
            )
            for mt in tunable
        }
        _allocate(tunable, searches, trials, batch, progress)
        results = {op: s.finish(verify_rounds) for op, s in searches.items()}
        tune_s = time.perf_counter() - t0

        best = [(mt.task, results[mt.operator].best) for mt in tunable if results[mt.operator].best is not None]
        db_dir = work_dir / "msgym_db"
        prepack = space == "extended"  # weights packed at compile time, where the best kernel packs them
        for task, rec in best:
            workload = packed_module(task) if prepack else None
            write_database(task, db_dir, [(rec.space, rec.decisions, rec.latency_s)], workload)
        expected = _torch_output(program)
        out: dict[str, Any] = {
            "model": program.name,
            "input_shapes": program.shape_text,
            "agent": agent,
            "trials": trials,
            "max_trials_per_task": max_trials_per_task,
            "tasks": [
                {
                    "task": mt.task.spec,
                    "weight": mt.weight,
                    "trials": results[mt.operator].trials if mt.operator in results else 0,
                    "best_latency_s": results[mt.operator].best.latency_s
                    if mt.operator in results and results[mt.operator].best
                    else None,
                    "verified_latency_s": results[mt.operator].verified_latency_s if mt.operator in results else None,
                }
                for mt in tasks
            ],
            "msgym_tune_s": tune_s,
            # where the tuned records stay (None: in a scratch folder, removed); compile with compile_relax
            "database": str(db_dir) if kept and db_dir.exists() else None,
            "prepacked": prepack,
        }
        # Every timer on the target's cores: PyTorch's threads, TVM's pool here and in the processes
        # MetaSchedule's runner starts below (TVM's default is half the hardware threads: _tvm.py).
        threads = use_threads(host_cores(target))
        out["threads"] = threads
        timers = {
            "pytorch_eager": _torch_timer(program, threads),
            "tvm_untuned": _relax_timer(_build_untuned(program.mod, target), program, expected, "untuned"),
            "tvm_msgym": _relax_timer(
                compile_model(db_dir, program.mod, target, prepack), program, expected, "msgym-tuned"
            ),
        }
        if with_metaschedule:
            t0 = time.perf_counter()
            db = _metaschedule_tune(program.fused, target, trials, work_dir / "metaschedule", seed)
            out["metaschedule_tune_s"] = time.perf_counter() - t0
            executable = ms.relax_integration.compile_relax(db, program.mod, target, params=None)
            timers["tvm_metaschedule"] = _relax_timer(executable, program, expected, "MetaSchedule-tuned")
        with run_lock(measurer.runner):  # no other process's kernel runs meanwhile
            verdicts = time_interleaved(timers, max(1, verify_rounds), seed, measurer.timing.estimator)
        for name, verdict in verdicts.items():
            out[f"{name}_s"], out[f"{name}_ci95"] = verdict["latency_s"], verdict["ci95"]
        out["verify_rounds"] = verify_rounds
        out["fast_p"] = _fast_p(out)
        return out


def _fast_p(out: dict) -> dict:
    """The model end to end (one task: each fraction is 0 or 1) against each reference it has."""
    result = {}
    for ref in ("pytorch_eager", "tvm_metaschedule"):
        if f"{ref}_s" in out:
            speedup = out[f"{ref}_s"] / out["tvm_msgym_s"]
            name = "metaschedule" if ref == "tvm_metaschedule" else ref
            result[name] = {**{f"fast_{p}": fast_p([speedup], p) for p in P_VALUES}, "tasks": 1, "speedup": speedup}
    return result


def _allocate(tunable: list, searches: dict, trials: int, batch: int, progress: bool) -> None:
    """Spread ``trials`` over the tasks' searches (see the module docstring)."""
    before: dict[str, float] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=trials, desc="model tasks", unit="trial")
    total = 0
    order = sorted(tunable, key=lambda mt: -mt.weight * mt.task.flops)
    queue = list(order)  # the first round: a batch each, heaviest first
    while total < trials and tunable:
        if queue:
            mt = queue.pop(0)
        else:
            live = [m for m in tunable if not searches[m.operator].done]
            if not live:
                break
            mt = max(live, key=lambda m: _priority(m, searches[m.operator], before.get(m.operator)))
        search = searches[mt.operator]
        before[mt.operator] = search.best.latency_s if search.best else math.inf
        n = search.step(min(batch, trials - total))
        total += n
        if bar is not None:
            bar.update(n)
        if n == 0 and all(searches[m.operator].done for m in tunable):
            break
    if bar is not None:
        bar.close()


def _priority(mt: Any, search: Search, before: float | None) -> float:
    if search.best is None:
        return math.inf  # nothing valid yet: it needs trials most
    now = search.best.latency_s
    improvement = (before - now) / before if before and math.isfinite(before) else 1.0
    return mt.weight * now * (1.0 + improvement)


def compile_model(db_dir: Path, mod: tvm.IRModule, target: Any, prepack: bool = False):
    """The model built with the tuned kernels of ``db_dir`` (``tune_model``'s ``work_dir/msgym_db``);
    ``mod``: the model's Relax program unfused (``relax_program(spec).mod``: ``compile_relax``
    fuses what it is given, and a fused one would not match the tuned workloads). ``prepack``: TVM's weight-prepacking
    flow, as a deployed model would run it: every fused function's constant inputs marked
    layout-free before the database is applied (its workloads are marked likewise), then the
    packing copies of the kernels that pack split off and folded into the constants at compile time."""
    load_tensor_intrinsics()
    db = ms.database.JSONDatabase(work_dir=str(db_dir)) if db_dir.exists() else ms.database.MemoryDatabase()
    if not prepack:
        return ms.relax_integration.compile_relax(db, mod, target, params=None)
    from tvm import relax

    @tvm.transform.module_pass(opt_level=3)
    def pipeline(mod: tvm.IRModule, _ctx: Any) -> tvm.IRModule:
        return tvm.transform.Sequential(prepack_passes() + _lowering_passes(target))(mod)

    with target, db, tvm.transform.PassContext(opt_level=3):
        return relax.build(mod, target=target, relax_pipeline=pipeline)


def prepack_passes() -> list:
    """Fusion as ``compile_relax`` does it, then TVM's weight prepacking around the database: made
    inside the target's context and the database's (``MetaScheduleApplyDatabase`` reads both)."""
    from tvm import relax

    t = relax.transform
    fuse = [t.LegalizeOps(), t.AnnotateTIROpPattern(), t.FoldConstant(), t.FuseOps(), t.FuseTIR()]
    pack = [t.AttachAttrLayoutFreeBuffers(), t.MetaScheduleApplyDatabase(), t.SplitLayoutRewritePreproc()]
    return [*fuse, *pack, t.FoldConstant()]


def _lowering_passes(target: Any) -> list:
    """What ``compile_relax`` runs after applying a database (TVM 0.27 has no CPU entry for them in
    its pipeline registry, so it lists them itself: the same list)."""
    from tvm import relax

    try:
        return relax.pipeline.dataflow_lower_passes(target) + relax.pipeline.finalize_passes(target)
    except (ValueError, AttributeError):
        t = relax.transform
        return [
            t.RewriteDataflowReshape(),
            t.ToNonDataflow(),
            t.RemovePurityChecking(),
            t.CallTIRRewrite(),
            t.StaticPlanBlockMemory(),
            t.LowerAllocTensor(),
            t.KillAfterLastUse(),
            t.LowerRuntimeBuiltin(),
            t.ComputePrimValue(),
            t.VMShapeLower(),
            t.AttachGlobalSymbol(),
        ]


def _build_untuned(mod: tvm.IRModule, target: Any):
    from tvm import relax

    return relax.build(mod, target=target)


def _torch_output(program: Any) -> list[np.ndarray]:
    import torch

    with torch.no_grad():
        out = program.model(*program.inputs)
    outs = out if isinstance(out, (tuple, list)) else [out]
    return [o.numpy() for o in outs]


def _torch_timer(program: Any, threads: int, repeat: int = 20) -> Callable[[], list[float]]:
    """PyTorch eager on the model: ``repeat`` timed calls (after 3 untimed) on the kernels' threads."""
    import torch

    def timer() -> list[float]:
        torch.set_num_threads(threads)
        with torch.no_grad():
            for _ in range(3):
                program.model(*program.inputs)
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                program.model(*program.inputs)
                times.append(time.perf_counter() - t0)
        return times

    return timer


def _relax_timer(executable: Any, program: Any, expected: list[np.ndarray], label: str) -> Callable[[], list[float]]:
    """The compiled model's repeats, after checking its output against PyTorch's."""
    from tvm import relax

    dev = tvm.cpu()
    vm = relax.VirtualMachine(executable, dev)
    args = [tvm.runtime.tensor(x.numpy(), dev) for x in program.inputs]
    out = vm["main"](*args)
    outs = [out] if hasattr(out, "numpy") else list(out)
    for i, (got, want) in enumerate(zip(outs, expected)):
        if not np.allclose(got.numpy(), want, rtol=RTOL, atol=ATOL):
            err = float(np.max(np.abs(got.numpy() - want)))
            raise RuntimeError(
                f"the {label} TVM build of {program.name} computes output {i} wrongly "
                f"(max abs error {err:.3g} against PyTorch)"
            )
    evaluator = vm.time_evaluator("main", dev, number=1, repeat=20, min_repeat_ms=50)
    return lambda: [float(x) for x in evaluator(*args).results]


def _metaschedule_tune(mod: tvm.IRModule, target: Any, trials: int, work_dir: Path, seed: int):
    load_tensor_intrinsics()
    builder = ms.builder.LocalBuilder(initializer=load_tensor_intrinsics)  # else every build times out here
    return ms.relax_integration.tune_relax(
        mod,
        params={},
        target=target,
        work_dir=str(work_dir),
        max_trials_global=trials,
        num_trials_per_iter=16,
        builder=builder,
        seed=seed,
    )
