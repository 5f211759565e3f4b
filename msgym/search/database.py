"""TVM interop: msgym measurements as a MetaSchedule JSON database, and back.

``export_database`` writes each measured candidate's final trace (postprocessors included) as a
tuning record, so ``ms.tir_integration.compile_tir(database, task.mod, target)`` compiles the best
schedule found; ``write_database`` does the same for chosen records (a run's best, say).
``import_database`` reads MetaSchedule's records of a task and keeps those whose
trace is a point of one of msgym's design spaces (checked by replaying it), as measurements.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import tvm_ffi

from msgym._tvm import Schedule, ms
from msgym.measure.result import MeasureResult
from msgym.space import design_spaces
from msgym.tasks import Task


def export_database(measurer: Any, task: Task, work_dir: "str | Path") -> ms.database.JSONDatabase:
    """Write every successful measurement of ``task`` to a MetaSchedule JSON database."""
    return write_database(
        task, work_dir, [(e.space, e.decisions, e.result.latency_s) for e in measurer.successes(task)]
    )


def write_database(
    task: Task,
    work_dir: "str | Path",
    measured: "list[tuple[int, Any, float]]",
    workload_mod: "Any | None" = None,
) -> ms.database.JSONDatabase:
    """Write (design space, decisions, latency in s) of ``task`` as MetaSchedule tuning records, under
    ``workload_mod`` (default: the task's program; a model compiled with its weights prepacked looks
    its functions up with their weights marked layout-free: ``extended_space.packed_module``)."""
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo

    mod = task.mod if workload_mod is None else workload_mod
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    db = ms.database.JSONDatabase(work_dir=str(work_dir))
    workload = db.commit_workload(mod)
    spaces = design_spaces(task)
    args_info = ArgInfo.from_prim_func(mod["main"])
    for space, decisions, latency_s in measured:
        trace = spaces.program(space, decisions).trace
        db.commit_tuning_record(
            ms.database.TuningRecord(
                # MetaSchedule ranks by the mean of run_secs; giving it msgym's median alone makes its
                # best (what compile_tir compiles) msgym's best.
                trace,
                workload,
                run_secs=[float(latency_s)],
                target=task.target,
                args_info=args_info,
            )
        )
    return db


def import_database(measurer: Any, task: Task, work_dir: "str | Path") -> tuple[int, int]:
    """Import MetaSchedule's records of ``task``; returns (imported, skipped).

    A record is skipped when its trace is not a point of msgym's design spaces (e.g. another
    generator's), so everything imported can be replayed, compared and exported again.
    """
    if not Path(work_dir).is_dir():
        raise FileNotFoundError(f"no MetaSchedule database at {work_dir} (expected database_workload.json there)")
    db = ms.database.JSONDatabase(work_dir=str(work_dir), allow_missing=False)
    spaces = design_spaces(task)
    imported = skipped = 0
    for record in db.get_all_tuning_records():
        if not tvm_ffi.structural_equal(record.workload.mod, task.mod):
            continue
        target = Schedule(task.mod)
        record.trace.apply_to_schedule(target, remove_postproc=False)
        match = spaces.locate(record.trace, target.mod)
        if match is None or not record.run_secs:
            skipped += 1
            continue
        repeats = [float(x) for x in record.run_secs]
        measurer.record(task, match[0], match[1], MeasureResult(latency_s=statistics.median(repeats), repeats=repeats))
        imported += 1
    return imported, skipped
