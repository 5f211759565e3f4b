"""TVM interop: export to a MetaSchedule database that compile_tir uses, and import back (fake latencies)."""

import random

import pytest
import tvm_ffi

from msgym._tvm import Schedule, ms
from msgym.envs.outcome import measure_candidates
from msgym.measure import Measurer
from msgym.search.database import export_database, import_database
from msgym.space import design_spaces
from msgym.tasks import get_task


def test_export_compiles_the_best_and_imports_back(tmp_path):
    task = get_task("gmm-64")
    spaces = design_spaces(task)
    cands = spaces.sample_distinct(random.Random(2), 4)
    measurer = Measurer(runner="fake")  # its own: the export holds every measurement of the task it has
    results = measure_candidates(measurer, spaces, cands)
    measurer.close()
    db = export_database(measurer, task, tmp_path / "db")
    best = min(range(len(cands)), key=lambda i: results[i].latency_s)
    chosen = ms.tir_integration.compile_tir(db, task.mod, task.target)
    assert tvm_ffi.structural_equal(chosen.mod, spaces.program(*cands[best]).mod)

    fresh = Measurer(runner="fake")
    try:
        imported, skipped = import_database(fresh, task, tmp_path / "db")
        assert (imported, skipped) == (len(cands), 0)
        for cand, result in zip(cands, results):
            assert fresh.lookup(task, *cand).latency_s == pytest.approx(result.latency_s)
    finally:
        fresh.close()


def test_import_skips_traces_outside_msgym_spaces(tmp_path):
    task = get_task("gmm-64")
    db = ms.database.JSONDatabase(work_dir=str(tmp_path))
    workload = db.commit_workload(task.mod)
    sch = Schedule(task.mod)  # a hand-written schedule: not a point of any design space
    i, j, k = sch.get_loops(sch.get_sblock("Z"))[1:]
    sch.reorder(k, i, j)
    db.commit_tuning_record(ms.database.TuningRecord(sch.trace, workload, run_secs=[1.0], target=task.target))
    m = Measurer(runner="fake")
    try:
        assert import_database(m, task, tmp_path) == (0, 1)
        with pytest.raises(FileNotFoundError, match="no MetaSchedule database"):
            import_database(m, task, tmp_path / "missing")
    finally:
        m.close()
