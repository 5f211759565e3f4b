"""The measurer: real builds and timings, output checks, and injected faults."""

import os
import textwrap

import pytest
import tvm
from tvm import te

from msgym._tvm import host_cores
from msgym.envs.outcome import measure_candidates
from msgym.measure import Measurer, TimingConfig
from msgym.space import design_spaces
from msgym.tasks import get_task

pytestmark = pytest.mark.hardware  # real builds and timings


def wrong_matmul() -> tvm.IRModule:
    """Same signature as gmm-64, but adds instead of multiplying: a kernel with wrong output."""
    a = te.placeholder((1, 64, 64), name="A")
    b = te.placeholder((1, 64, 64), name="B")
    c = te.compute((1, 64, 64), lambda n, i, j: a[n, i, j] + b[n, i, j], name="C")
    return tvm.IRModule({"main": te.create_prim_func([a, b, c]).with_attr("global_symbol", "main")})


def crashing_matmul() -> tvm.IRModule:
    """Same signature as gmm-64, but the kernel calls abort(): it kills the process running it."""
    a = te.placeholder((1, 64, 64), name="A")
    b = te.placeholder((1, 64, 64), name="B")
    abort = tvm.tirx.Cast("float32", tvm.tirx.call_extern("int32", "abort"))
    c = te.compute((1, 64, 64), lambda n, i, j: a[n, i, j] * b[n, i, j] + abort, name="C")
    return tvm.IRModule({"main": te.create_prim_func([a, b, c]).with_attr("global_symbol", "main")})


def default_program(task):
    spaces = design_spaces(task)
    return spaces.program(0, spaces.default_decisions(0)).mod


def test_measures_a_scheduled_kernel(measurer):
    task = get_task("gmm-64")
    spaces = design_spaces(task)
    result = measurer.measure(task, spaces.program(0, spaces.default_decisions(0)).mod)
    assert result.ok, result.error
    assert measurer.timing.repeat <= len(result.repeats) <= measurer.timing.max_repeat
    assert result.latency_s == min(result.repeats) and result.estimator == "min"
    low, high = result.ci95
    assert low <= result.latency_s <= high and high < 2 * low  # sane: the few fastest repeats agree
    assert result.cv < 1.0
    assert result.threads == host_cores(task.target)  # TVM's pool on the target's cores (test_tvm_threads)
    assert measurer.baseline(task).ok


def test_repeats_adapt_to_contenders_and_stay_bounded(measurer):
    """A kernel far from its task's best gets the first repeats only; a contender whose interval is
    wider than the target gets more, up to max_repeat (here every interval is too wide: target 0)."""
    task = get_task("gmm-64")
    program = default_program(task)
    measurer.measure(task, program, use_cache=False)  # the task's best so far is this kernel
    with measurer.timing_as(contender_ratio=0.5):  # nothing is within 0.5x of the best: all hopeless
        hopeless = measurer.measure(task, program, use_cache=False)
    assert len(hopeless.repeats) == measurer.timing.repeat
    with measurer.timing_as(contender_ratio=100.0, target_width=0.0, max_repeat=12, max_timing_s=10.0):
        contender = measurer.measure(task, program, use_cache=False)
    assert len(contender.repeats) == 12
    with measurer.timing_as(contender_ratio=100.0, target_width=0.0, max_repeat=100, max_timing_s=0.03):
        capped = measurer.measure(task, program, use_cache=False)  # a repeat lasts >= min_repeat_ms = 2 ms
    assert measurer.timing.repeat <= len(capped.repeats) <= 15


def test_wrong_kernel_is_an_error_not_a_latency(measurer):
    task = get_task("gmm-64")
    result = measurer.measure(task, wrong_matmul())
    assert not result.ok and result.latency_s is None
    assert "wrong output: argument 2" in result.error


def half_matmul() -> tvm.IRModule:
    """gmm-64's computation, but only the first half of the output's rows are written."""
    a = te.placeholder((1, 64, 64), name="A")
    b = te.placeholder((1, 64, 64), name="B")
    k = te.reduce_axis((0, 64), name="k")
    c = te.compute((1, 64, 64), lambda n, i, j: te.sum(a[n, i, k] * b[n, k, j], axis=k), name="C")
    src = te.create_prim_func([a, b, c]).with_attr("global_symbol", "main").script()
    assert "T.grid(1, 64, 64, 64)" in src
    return tvm.IRModule({"main": tvm.script.from_source(src.replace("T.grid(1, 64, 64, 64)", "T.grid(1, 32, 64, 64)"))})


def test_a_kernel_that_leaves_outputs_unwritten_fails_after_a_correct_one(measurer):
    """The run worker reuses its argument buffers (``TimingConfig.reuse_buffers``): the correct
    kernel's outputs must not be left there for the next kernel's check to find."""
    task = get_task("gmm-64")
    assert measurer.timing.reuse_buffers
    assert measurer.measure(task, default_program(task), use_cache=False).ok
    result = measurer.measure(task, half_matmul(), use_cache=False)
    assert not result.ok and "wrong output: argument 2" in result.error
    assert "in 2048 of 4096 elements" in result.error  # the unwritten half, nothing more


def test_repeats_are_shared_out_among_the_placements():
    task = get_task("gmm-64")
    program = default_program(task)
    with Measurer(TimingConfig(placements=3, repeat=7, adaptive=False)) as m:
        first = m.measure(task, program)
        second = m.measure(task, program, use_cache=False)  # the worker's buffers again
    assert first.ok and second.ok and len(first.repeats) == len(second.repeats) == 7
    with Measurer(TimingConfig(placements=1, reuse_buffers=False, repeat=4, adaptive=False)) as m:
        fresh = m.measure(task, program)  # the protocol before the placements
    assert fresh.ok and len(fresh.repeats) == 4


def test_build_that_raises_is_an_error(measurer):
    task = get_task("gmm-64")
    bad = tvm.IRModule({"main": wrong_matmul()["main"].with_attr("target", 42)})
    result = measurer.measure(task, bad, use_cache=False)
    assert not result.ok and result.error


def test_run_past_its_timeout_is_an_error_and_the_worker_is_replaced():
    task = get_task("gmm-512")
    spaces = design_spaces(task)
    slow = Measurer(TimingConfig(run_timeout_s=0.01, repeat=50))
    try:
        program = spaces.program(0, spaces.default_decisions(0)).mod
        result = slow.measure(task, program)
        assert not result.ok and "timed out" in result.error
        assert slow.worker_restarts == 1
        assert slow.measure(task, program) is result  # the same limits: cached, not measured again
        slow.timing = TimingConfig()
        again = slow.measure(task, program)  # larger limits: a timeout under 0.01 s says nothing, so the
        assert again.ok, again.error  # replaced worker measures it again
    finally:
        slow.close()


def test_kernel_that_crashes_the_worker_is_an_error_and_the_run_goes_on():
    task = get_task("gmm-64")
    m = Measurer()
    try:
        result = m.measure(task, crashing_matmul())
        assert not result.ok and "run worker died" in result.error and "signal" in result.error
        assert m.worker_restarts == 1
        assert m.measure(task, default_program(task)).ok  # a new worker measures the next one
    finally:
        m.close()


def test_build_that_hangs_is_killed_at_its_timeout(monkeypatch):
    from conftest import DATA

    monkeypatch.setenv("MSGYM_WORKER_PRELOAD", str(DATA / "faults.py"))
    task = get_task("gmm-64")
    m = Measurer(TimingConfig(build_timeout_s=2.0))
    try:
        m.measure(task, default_program(task))  # starts the worker (its start is not timed)
        hanging = default_program(task)
        hanging = tvm.IRModule({"main": hanging["main"].with_attr("msgym_fault", "hang_build")})
        result = m.measure(task, hanging)
        assert not result.ok and result.error == "build timed out after 2 s; the build worker was replaced"
        assert m.builder.restarts == 1
        assert m.measure(task, default_program(task), use_cache=False).ok
    finally:
        m.close()


def test_builds_go_two_at_a_time_between_timed_kernels(tmp_path, monkeypatch):
    """Where builds must not overlap a timed kernel (2 cores), both cores build between runs: two
    builds at once in two workers, and never a build while a kernel is timed."""
    import json
    import random

    from conftest import DATA

    timeline = tmp_path / "timeline.jsonl"
    monkeypatch.setenv("MSGYM_WORKER_PRELOAD", str(DATA / "timeline.py"))
    monkeypatch.setenv("MSGYM_TEST_TIMELINE", str(timeline))
    task = get_task("gmm-64")
    spaces = design_spaces(task)
    cands = spaces.sample_distinct(random.Random(5), 6)
    with Measurer(overlap=False, builders=2) as m:
        assert all(r.ok for r in measure_candidates(m, spaces, cands))
    events = [json.loads(line) for line in timeline.read_text().splitlines()]
    builds = [(s, e) for kind, _, s, e in events if kind == "build"]
    runs = [(s, e) for kind, _, s, e in events if kind == "run"]
    assert len(builds) == len(runs) == len(cands)
    assert len({pid for kind, pid, _, _ in events if kind == "build"}) == 2

    def overlap(a, b):
        return a[0] < b[1] and b[0] < a[1]

    assert any(overlap(a, b) for i, a in enumerate(builds) for b in builds[i + 1 :])
    assert not any(overlap(b, r) for b in builds for r in runs)


def test_a_contenders_repeats_come_in_spaced_chunks():
    task = get_task("gmm-64")
    with Measurer(TimingConfig(min_chunks=3, gap_ms=200)) as m:
        result = m.measure(task, default_program(task))  # the task's first: a contender
    assert result.ok and len(result.repeats) == 15  # 5 + 5 + 5, however narrow the first five were
    assert result.run_s >= 0.4  # two 200 ms gaps


def test_invalid_candidate_is_an_error_result(measurer):
    task = get_task("gmm-64")
    spaces = design_spaces(task)
    decisions = spaces.default_decisions(0)
    decisions[1] = [3, 1, 1, 1]
    [result] = measure_candidates(measurer, spaces, [(0, decisions)])
    assert not result.ok and "replaced" in result.error


def test_batch_is_measured_once_and_cached(measurer):
    import random

    task = get_task("gmm-64")
    spaces = design_spaces(task)
    cands = spaces.sample_distinct(random.Random(4), 4)
    before = measurer.measured
    first = measure_candidates(measurer, spaces, cands)
    assert all(r.ok for r in first) and measurer.measured - before == len(cands)
    again = measure_candidates(measurer, spaces, cands)
    assert again == first and measurer.measured - before == len(cands)
    assert measurer.lookup(task, *cands[0]) is first[0]


def test_runs_wait_for_the_machine_wide_run_lock(measurer):
    """A kernel never runs while another process holds the run lock (here: this test)."""
    import fcntl
    import threading

    from msgym.measure import cache_dir

    task = get_task("gmm-64")
    program = default_program(task)
    measurer.measure(task, program)  # the workers are up and the reference is known
    done = threading.Event()
    results = []
    with open(cache_dir() / "run.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        thread = threading.Thread(
            target=lambda: (results.append(measurer.measure(task, program, use_cache=False)), done.set())
        )
        thread.start()
        assert not done.wait(3.0), "the kernel ran while another process held the run lock"
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert done.wait(120)
    thread.join()
    assert results[0].ok, results[0].error


ORPHAN = textwrap.dedent("""
    import sys
    from msgym.measure import Measurer, TimingConfig
    from msgym.space import design_spaces
    from msgym.tasks import get_task
    task = get_task("gmm-1024")
    program = design_spaces(task).program(0, design_spaces(task).default_decisions(0)).mod
    m = Measurer()
    m.measure(get_task("gmm-64"), get_task("gmm-64").mod)  # the workers are up
    m.timing = TimingConfig(repeat=1000, min_repeat_ms=200, slow_kernel_s=1e9, run_timeout_s=600)  # minutes
    print(m.builder.proc.pid, m.run_worker.proc.pid, flush=True)
    m.measure(task, program)  # killed in here, while its worker times the kernel
""")


def test_a_killed_parents_workers_die_and_free_the_run_lock():
    """kill -9 of a measuring process: its workers end too (no orphan timing a kernel with the
    machine's run lock held), quietly (no BrokenPipeError traceback in its log)."""
    import fcntl
    import os
    import signal
    import subprocess
    import sys
    import time

    from msgym.measure import cache_dir

    lock_path = cache_dir() / "run.lock"
    lock_path.touch()

    def lock_holders():
        """Pids holding the run lock (Linux /proc/locks: "... FLOCK ADVISORY WRITE pid maj:min:inode ...")."""
        inode = os.stat(lock_path).st_ino
        fields = [line.split() for line in open("/proc/locks")]
        return {int(f[4]) for f in fields if len(f) > 5 and f[1] == "FLOCK" and f[5].endswith(f":{inode}")}

    proc = subprocess.Popen([sys.executable, "-c", ORPHAN], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2, proc.stderr.read()
    deadline = time.time() + 120
    while pids[1] not in lock_holders() and time.time() < deadline:  # built, then timed with the lock held
        time.sleep(0.2)
    time.sleep(1.0)
    assert pids[1] in lock_holders(), "the kernel never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while any(_alive(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.2)
    left = [pid for pid in pids if _alive(pid)]
    for pid in left:  # (a failing test leaves no orphan behind)
        os.kill(pid, signal.SIGKILL)
    assert not left, "a worker outlived its parent"
    assert not set(pids) & lock_holders()  # the lock is not held on a dead process's behalf
    deadline = time.time() + 60  # it can be taken: at once, unless another kernel of this machine runs now
    while lock_holders() and time.time() < deadline:
        time.sleep(0.2)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert "Traceback" not in proc.stderr.read()


def _alive(pid):
    """Whether any thread of the process still runs. (Its first thread turns zombie as soon as it is
    killed, while the others, and the files and locks they share, may last a moment longer.)"""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return False
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                    return True
        except FileNotFoundError:
            continue
    return False


def test_processes_sharing_a_cache_measure_a_baseline_once(tmp_path):
    import os
    import subprocess
    import sys

    script = (
        "from msgym.measure import Measurer; from msgym.tasks import get_task\n"
        "m = Measurer(); m.baseline(get_task('sfm-64')); print(m.measured); m.close()"
    )
    env = {**os.environ, "MSGYM_CACHE_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)
    ]
    counts = [int(p.communicate(timeout=300)[0].split()[-1]) for p in procs]
    assert sorted(counts) == [0, 1]  # one measured it, the other read it
