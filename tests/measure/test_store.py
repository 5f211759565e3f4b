"""Durable records: a run killed with kill -9 resumes from its store."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from msgym.envs.outcome import measure_candidates
from msgym.measure import Measurer
from msgym.space import design_spaces
from msgym.tasks import get_task

pytestmark = pytest.mark.hardware  # real builds and timings

SCRIPT = textwrap.dedent("""
    import random, sys
    from msgym.envs.outcome import measure_candidates
    from msgym.measure import Measurer
    from msgym.space import design_spaces
    from msgym.tasks import get_task
    task = get_task("gmm-64")
    spaces = design_spaces(task)
    cands = spaces.sample_distinct(random.Random(0), 8)
    m = Measurer(store=sys.argv[1])
    for cand in cands:
        measure_candidates(m, spaces, [cand])
        print("measured", flush=True)
    print("all done", flush=True)
""")


def candidates():
    import random

    spaces = design_spaces(get_task("gmm-64"))
    return spaces, spaces.sample_distinct(random.Random(0), 8)  # the same as SCRIPT's


def test_killed_run_resumes_from_the_store(tmp_path):
    store = tmp_path / "records.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(store)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    seen = 0
    deadline = time.monotonic() + 300
    while seen < 3 and time.monotonic() < deadline:
        if proc.stdout.readline().startswith("measured"):
            seen += 1
    os.killpg(proc.pid, signal.SIGKILL)  # kill -9 the run and its workers, mid-batch
    proc.wait()
    assert seen == 3
    lines = store.read_text().splitlines()
    assert len(lines) >= 3
    assert all(json.loads(line)["result"]["latency_s"] > 0 for line in lines)

    spaces, cands = candidates()
    m = Measurer(store=store)
    try:
        stored = len(m.cache)
        assert stored == len(lines)
        results = measure_candidates(m, spaces, cands)
        assert all(r.ok for r in results)
        assert m.measured == len(cands) - stored  # only the missing candidates were measured
        assert len(store.read_text().splitlines()) == len(cands)
    finally:
        m.close()


def test_torn_last_line_is_ignored(tmp_path):
    store = tmp_path / "records.jsonl"
    store.write_text(
        '{"key": "a|0|[1]", "task_key": "a", "space": 0, "decisions": [1], '
        '"result": {"latency_s": 0.5, "repeats": [0.5]}}\n{"key": "b|0|[2]", "tas'
    )
    m = Measurer(store=store)
    assert list(m.cache) == ["a|0|[1]"] and m.cache["a|0|[1]"].result.latency_s == 0.5
    m.close()


def test_measurers_sharing_a_store_reuse_each_others_results(tmp_path):
    """Parallel environments (one measurer per process) share measurements through the store."""
    store = tmp_path / "records.jsonl"
    spaces, cands = candidates()
    first, second = Measurer(store=store), Measurer(store=store)  # both opened before anything is measured
    try:
        measure_candidates(first, spaces, cands[:2])
        results = measure_candidates(second, spaces, cands[:2])
        assert second.measured == 0 and all(r.ok for r in results)
    finally:
        first.close()
        second.close()
