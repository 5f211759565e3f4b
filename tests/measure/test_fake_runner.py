"""The fake runner: deterministic latencies without building, kept apart from real measurements."""

import os
import random

from msgym.envs.outcome import measure_candidates
from msgym.measure import Measurer, default_store
from msgym.space import design_spaces
from msgym.tasks import get_task


def test_latency_is_a_deterministic_function_of_the_program(tmp_path):
    task = get_task("gmm-64")
    spaces = design_spaces(task)
    cands = spaces.sample_distinct(random.Random(1), 6)
    with Measurer(runner="fake") as a, Measurer(runner="fake") as b:
        first, second = measure_candidates(a, spaces, cands), measure_candidates(b, spaces, cands)
        assert [r.latency_s for r in first] == [r.latency_s for r in second]
        assert len({r.latency_s for r in first}) == len(cands)  # different programs, different latencies
        assert all(1e-4 <= r.latency_s <= 1e-2 for r in first)
        assert a.builder.proc is None and a.run_worker.proc is None  # nothing was built or run
        assert a.baseline(task).ok


def test_fake_results_never_answer_a_real_request_and_never_reach_the_baselines(tmp_path):
    store = tmp_path / "records.jsonl"
    task = get_task("gmm-64")
    spaces = design_spaces(task)
    cands = spaces.sample_distinct(random.Random(2), 3)
    with Measurer(runner="fake", store=store) as fake:
        measure_candidates(fake, spaces, cands)
        fake.baseline(task)
    real = Measurer(store=store)  # opened, never used to measure: only its cache is read
    try:
        assert real.cache == {} and all(real.lookup(task, *c) is None for c in cands)
    finally:
        real.close()
    with Measurer(runner="fake", store=store) as again:
        assert len(again.entries(task)) == len(cands)  # a fake measurer reads them back
    assert (
        not (default_store().parent / "baselines.json").exists()
        or task.key not in (default_store().parent / "baselines.json").read_text()
    )


def test_an_invalid_candidate_is_an_error_result_without_building():
    task = get_task("gmm-64")
    spaces = design_spaces(task)
    decisions = spaces.default_decisions(0)
    decisions[1] = [3, 1, 1, 1]  # 3 does not divide 64: TVM would replace it
    with Measurer(runner="fake") as m:
        [result] = measure_candidates(m, spaces, [(0, decisions)])
    assert not result.ok and "replaced" in result.error


def test_build_folders_of_dead_processes_are_swept(tmp_path, monkeypatch):
    import subprocess
    import sys
    import tempfile

    from msgym.measure.measurer import BUILD_PREFIX, sweep_build_dirs

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / f"{BUILD_PREFIX}{dead.stdout.strip()}-abc").mkdir()  # left by a process killed with -9
    (tmp_path / f"{BUILD_PREFIX}{os.getpid()}-def").mkdir()  # a live one's
    assert sweep_build_dirs() == 1
    assert [p.name for p in tmp_path.iterdir()] == [f"{BUILD_PREFIX}{os.getpid()}-def"]
