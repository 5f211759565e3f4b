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
from msgym.measure import Measurer, ProgramRequest
from msgym.space import design_spaces
from msgym.tasks import get_task

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


@pytest.mark.hardware
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


GOOD = (
    '{"key": "a|0|[1]", "task_key": "a", "space": 0, "decisions": [1], "result": {"latency_s": 0.5, "repeats": [0.5]}}'
)


def test_torn_last_line_is_ignored_and_the_next_append_starts_a_fresh_line(tmp_path):
    store = tmp_path / "records.jsonl"
    store.write_text(GOOD + '\n{"key": "b|0|[2]", "tas')  # a crash mid-write
    with Measurer(runner="fake", store=store) as m:  # reads only fake records: none yet
        assert m.cache == {}
        task = get_task("gmm-64")
        m.measure(task, task.mod)  # appends one record
    with pytest.warns(UserWarning, match=r"records.jsonl:2: unreadable record skipped"):
        m = Measurer(store=store)
    assert list(m.cache) == ["a|0|[1]"] and m.cache["a|0|[1]"].result.latency_s == 0.5
    m.close()
    lines = store.read_text().splitlines()
    assert len(lines) == 3 and lines[1] == '{"key": "b|0|[2]", "tas'  # the new record was not glued on
    with Measurer(runner="fake", store=store) as again:
        assert len(again.cache) == 1  # ... and is read back


def test_lines_that_are_not_records_are_reported_and_skipped(tmp_path):
    store = tmp_path / "records.jsonl"
    store.write_text("\n".join([GOOD, '{"key": "x"}', "[1, 2]", '{"key": 3, "task_key": "t"}', "not json", ""]))
    with pytest.warns(UserWarning) as caught:
        m = Measurer(store=store)
    assert list(m.cache) == ["a|0|[1]"]
    assert [str(w.message).split(": ")[0].rsplit(":", 1)[1] for w in caught] == ["2", "3", "4", "5"]
    m.close()


def test_unusable_cache_folders_and_stores_are_one_clear_error(tmp_path, monkeypatch):
    from msgym.measure import cache_dir
    from msgym.measure.store import CacheError

    a_file = tmp_path / "a_file"
    a_file.write_text("")
    for value, message in [
        (str(a_file), "is a file, not a folder"),
        ("", "set but empty"),
        ("/proc/msgym-cache", "cannot be made"),
    ]:
        monkeypatch.setenv("MSGYM_CACHE_DIR", value)
        with pytest.raises(CacheError, match=message):
            cache_dir()
    with pytest.raises(CacheError, match="is a folder; name a file"):
        Measurer(store=tmp_path)


def test_a_failure_is_reused_only_under_limits_at_least_as_large(tmp_path):
    from msgym.measure import MeasureResult, TimingConfig

    store = tmp_path / "records.jsonl"
    task = get_task("gmm-64")
    with Measurer(TimingConfig(run_timeout_s=3.0), runner="fake", store=store) as short:
        short.record(task, 0, [1], MeasureResult(error="run timed out after 3 s"), runner="fake")
    with Measurer(TimingConfig(run_timeout_s=3.0), runner="fake", store=store) as same:
        assert same._cached(next(iter(same.cache)), same._threads(task))  # the same limits: the failure stands
    with Measurer(TimingConfig(run_timeout_s=600.0), runner="fake", store=store) as longer:
        # larger limits: it is measured again
        assert not longer._cached(next(iter(longer.cache)), longer._threads(task))


@pytest.mark.hardware
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


def test_a_latency_of_another_estimator_is_measured_again(tmp_path):
    """Records written before the estimator was recorded hold medians: a measurer taking the minimum
    measures those candidates again instead of mixing the two statistics in one comparison."""
    from msgym.measure import TimingConfig

    store = tmp_path / "records.jsonl"
    task = get_task("gmm-64")
    with Measurer(runner="fake", store=store) as m:
        m.measure_programs(task, [ProgramRequest(0, [1], lambda: task.mod)])
    lines = [json.loads(line) for line in store.read_text().splitlines()]
    assert lines[0]["result"]["estimator"] == "min"
    del lines[0]["result"]["estimator"]  # as an old record
    store.write_text(json.dumps(lines[0]) + "\n")
    with Measurer(runner="fake", store=store) as m:
        [entry] = m.cache.values()
        assert entry.result.estimator == "median" and not m._cached(entry_key(m), m._threads(task))
    with Measurer(TimingConfig(estimator="median"), runner="fake", store=store) as m:
        assert m._cached(entry_key(m), m._threads(task))


def entry_key(measurer):
    return next(iter(measurer.cache))


def test_successes_are_only_the_results_this_measurer_would_answer(tmp_path, monkeypatch):
    """What cost models learn from and datasets ship: a median beside minima, or a kernel timed on
    another number of CPU threads (records before msgym set TVM's pool), is left out."""
    store = tmp_path / "records.jsonl"
    task = get_task("gmm-64")
    with Measurer(runner="fake", store=store) as m:
        m.measure_programs(task, [ProgramRequest(0, [1], lambda: task.mod), ProgramRequest(0, [2], lambda: task.mod)])
        assert len(m.successes(task)) == 2
        monkeypatch.setattr(m, "_threads", lambda task: 2)  # the fake's results name no threads
        assert m.successes(task) == []
    lines = [json.loads(line) for line in store.read_text().splitlines()]
    lines[0]["result"]["estimator"] = "median"
    store.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with Measurer(runner="fake", store=store) as m:
        assert [e.decisions for e in m.successes(task)] == [[2]]
        assert len(m.entries(task)) == 2
