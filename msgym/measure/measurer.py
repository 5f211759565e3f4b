"""The measurer: every measurement in msgym goes through one.

Policy (documented for the 2-core machines this project runs on):

* **Build workers** and one **run worker**, each a long-lived process that imports TVM once.
  A build is ``tirx.build`` + linking a shared library; a run loads it, runs it once on seeded
  inputs, compares every argument with the task's reference, then times it. A GPU task builds in
  all of them at once (``builders``: cores - 2, at most 8), since its kernels run on the GPU and
  leave the cores free; a CPU task on 2 cores in two at once between its runs (one per core: a
  build is one thread), on more cores in one, beside the kernel being timed (``_build_slots``).
* **Runs are serialized**, machine-wide: one run worker per measurer, and a file lock
  (``$MSGYM_CACHE_DIR/run.lock``) held while a kernel runs, so kernels measured by other
  processes (parallel environments, other searches) never time each other's noise.
* **Builds overlap runs** only where there are more than 2 cores, or the kernel runs on a GPU
  (``overlap=None`` decides, per task): on 2 cores a build would take a core from the CPU kernel
  being timed (kernels use every core), so there builds (two at once) and runs alternate. The
  parent still overlaps its own work (replaying and postprocessing the next candidate) with the workers.
* Timing: ``time_evaluator(number=1, repeat=5, min_repeat_ms=2)``, the minimum of the repeats,
  and more repeats for contenders (kernels near the task's best so far) whose interval is wide:
  ``protocol.py`` says why, with figures. Slow kernels (first run > 20 ms) get 3 repeats timed
  from Python first. See ``TimingConfig``.
* A build or run past its timeout, or a worker that dies, becomes an error result; the worker
  is killed and a new one starts for the next job.
* Every result is cached (key: task fingerprint, target, design space, decisions) and, with a
  ``store``, appended to a JSON-lines file as soon as it is known; a new measurer on the same store
  starts with every stored result cached.
* It takes programs, not design-space points: a ``ProgramRequest`` names what the result is of
  (the cache key) and makes the program when it is needed (``msgym.envs.outcome`` makes them
  from candidates).
* Whoever makes a measurer closes it (``with Measurer(...) as m:``): it owns two processes and a
  temporary folder. ``runner="fake"`` builds and runs nothing (tests of everything else).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from msgym._tvm import has_gpu, is_gpu, structural_key, tvm
from msgym.measure import runners
from msgym.measure.process import WorkerLost, WorkerProcess
from msgym.measure.result import MeasureResult, TimingConfig
from msgym.measure.store import Entry, RecordStore, cache_dir, candidate_key, default_store, file_lock, make_record
from msgym.measure.worker import TIMED_SUFFIX, kernel_threads
from msgym.tasks import Task

REFERENCE_TIMEOUT_S = 900.0  # an unscheduled program (the reference) can be slow
BUILD_PREFIX = "msgym-build-"  # + pid + "-": a folder of built kernels, one per measurer
LOCK_WAIT_S = 3600.0  # how long a run may wait for the machine's run lock (others' kernels)


@dataclasses.dataclass(frozen=True)
class ProgramRequest:
    """A program to measure: what it is of (``space`` and ``decisions``: the cache key; ``space``
    None for a bare program, whose ``decisions`` is then its fingerprint), and ``make()``, which
    returns the program (an IRModule), or a string saying why there is none (an error result)."""

    space: int | None
    decisions: Any
    make: Callable[[], "tvm.IRModule | str"]


@dataclasses.dataclass(frozen=True)
class MeasurerSettings:
    """What makes a measurer, picklable: an environment copied to another process makes its own
    measurer from these (same store, so measurements are shared through it)."""

    timing: TimingConfig = TimingConfig()
    runner: str = "local"
    store: "str | None" = None  # None: the default store in the cache folder
    overlap: bool | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "MeasurerSettings":
        """``{"runner": "fake", "store": ..., "timing": {"repeat": 9}}``; unknown keys are an error."""
        fields = {f.name for f in dataclasses.fields(cls)}
        if set(data) - fields:
            raise ValueError(
                f"unknown measurer settings {sorted(set(data) - fields)}; valid: {', '.join(sorted(fields))}"
            )
        data = dict(data)
        if isinstance(data.get("timing"), dict):
            data["timing"] = TimingConfig(**data["timing"])
        return cls(**data)


@dataclasses.dataclass
class _Item:
    key: str
    space: int | None
    decisions: Any
    program: Callable[[], "tvm.IRModule | str"]  # made lazily: replay + postprocessing
    result: MeasureResult | None = None
    path: str | None = None
    build_s: float = 0.0
    started: bool = False  # the run holds the machine's run lock


class Measurer:
    """Builds, checks, times and records candidates of tasks."""

    def __init__(
        self,
        timing: TimingConfig | None = None,
        runner: "str | runners.Runner" = "local",
        store: "str | Path | None" = None,
        overlap: bool | None = None,
        builders: int | None = None,
    ):
        self.timing = timing or TimingConfig()
        self.runner = runners.create(runner)
        self.runner.check()
        self.store = RecordStore(store, fake=self.fake) if store is not None else None
        self.cache: dict[str, Entry] = self.store.load_cache() if self.store else {}
        self.overlap = overlap  # None: decided per task (``_overlaps``)
        n_builders = builders if builders is not None else default_builders()
        if n_builders < 1:
            raise ValueError(f"builders must be at least 1, got {n_builders}")
        self.builders = [WorkerProcess("build") for _ in range(n_builders)]  # started when first used
        self.run_worker = WorkerProcess("run")
        self._tmp: str | None = None  # made at the first build
        self._references: set[str] = set()  # tasks whose reference the current run worker has
        self._baselines: dict[str, MeasureResult] = {}
        self._best: dict[str, float | None] = {}  # task key -> best latency measured so far (contenders)
        self.measured = 0  # candidates actually built and run (cache hits not counted)

    @classmethod
    def from_settings(cls, settings: MeasurerSettings) -> "Measurer":
        return cls(settings.timing, settings.runner, settings.store or default_store(), settings.overlap)

    def settings(self) -> MeasurerSettings:
        return MeasurerSettings(
            self.timing, str(self.runner), str(self.store.path) if self.store else None, self.overlap
        )

    @property
    def fake(self) -> bool:
        """Nothing is built or run: latencies come from the program's fingerprint (tests)."""
        return isinstance(self.runner, runners.FakeRunner)

    def __enter__(self) -> "Measurer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def builder(self) -> WorkerProcess:
        """The first build worker (the only one a CPU task uses where builds overlap its runs)."""
        return self.builders[0]

    @property
    def worker_restarts(self) -> int:
        return sum(b.restarts for b in self.builders) + self.run_worker.restarts

    def _overlaps(self, task: Task) -> bool:
        """Whether builds may run while a kernel is timed: on > 2 cores, or when kernels run on a GPU."""
        if self.overlap is not None:
            return self.overlap
        return (os.cpu_count() or 1) > 2 or is_gpu(task.target)

    def _build_slots(self, task: Task) -> list[WorkerProcess]:
        """The build workers ``task``'s builds may use at once. Where builds never overlap a timed kernel
        (a CPU task on <= 2 cores: ``_overlaps``) they have the machine between runs to themselves:
        all of them, one per core. Where they do (a GPU, whose kernels leave the cores free; a CPU
        task on more cores), a CPU task's builds go one at a time beside its kernel's threads.

        Why: a build is one LLVM thread, so one builder left a 2-core machine's other core idle
        through every build; on TBG/0 the learned agent's picks averaged 3.8 s of build each
        (``experiments/build_cost.py``). Two builders measured 64 of them in 0.84x the wall time of
        one, latencies agreeing as two alike measurers do (``experiments/parallel_builds.py``,
        BENCHMARKS.md): a batch of 4 waits for its slowest build."""
        if is_gpu(task.target) or not self._overlaps(task):
            return self.builders
        return self.builders[:1]

    # ------------------------------------------------------------------------------ public
    def measure(self, task: Task, mod: tvm.IRModule, use_cache: bool = True) -> MeasureResult:
        """Build, check and time one program of ``task`` (cached by the program's fingerprint)."""
        fingerprint = structural_key(mod)
        item = _Item(candidate_key(task.key, None, fingerprint), None, fingerprint, lambda: mod)
        return self._measure_items(task, [item], use_cache)[0]

    def measure_programs(
        self, task: Task, requests: Iterable[ProgramRequest], use_cache: bool = True
    ) -> list[MeasureResult]:
        """Measure programs of ``task``; cached ones are not re-run (unless ``use_cache`` is False).
        A request whose program cannot be made is an error result."""
        items = [_Item(candidate_key(task.key, r.space, r.decisions), r.space, r.decisions, r.make) for r in requests]
        return self._measure_items(task, items, use_cache)

    def lookup(self, task: Task, space: int, decisions: Any) -> MeasureResult | None:
        entry = self.cache.get(candidate_key(task.key, space, decisions))
        return entry.result if entry is not None else None

    def best_so_far(self, task: Task) -> float | None:
        """The task's best latency measured so far (the cache's, then this measurer's): the adaptive
        protocol gives more repeats to kernels near it (``protocol.more_repeats``)."""
        if task.key not in self._best:
            latencies = [e.result.latency_s for e in self.cache.values() if e.task_key == task.key and e.result.ok]
            self._best[task.key] = min(latencies, default=None)
        return self._best[task.key]

    def entries(self, task: Task) -> list[Entry]:
        """Every cached candidate measurement of ``task`` (bare programs excluded)."""
        return [e for e in self.cache.values() if e.task_key == task.key and e.space is not None]

    def successes(self, task: Task) -> list[Entry]:
        """The successful candidate measurements of ``task`` this measurer would answer from its
        cache: the same statistic, the kernel on the same CPU threads. What cost models learn from
        and datasets ship: a latency of a kernel on one thread (records before msgym set TVM's pool)
        beside others on two would teach a model a ranking no search here can use."""
        limits, estimator, threads = self._limits(), self.timing.estimator, self._threads(task)
        return [e for e in self.entries(task) if e.result.ok and e.answers(limits, estimator, threads)]

    def record(
        self, task: Task, space: "int | None", decisions: Any, result: MeasureResult, runner: str = "imported"
    ) -> None:
        """Cache and store a result (measured here, or elsewhere: e.g. a TVM database's)."""
        key = candidate_key(task.key, space, decisions)
        self.cache[key] = Entry(task.key, space, decisions, result, self._limits())
        if self.store is not None:
            self.store.append(make_record(key, task, space, decisions, result, runner, self.timing))

    def baseline(self, task: Task) -> MeasureResult:
        """The unscheduled program's latency: what speedups are relative to (cached on disk, by the
        program and target: a task's design spaces share it)."""
        if task.program_key in self._baselines:
            return self._baselines[task.program_key]
        if self.fake:  # never stored, never counted: a fake latency must not pass for a measured one
            self._baselines[task.program_key] = self.runner.measure(task.mod)
            return self._baselines[task.program_key]
        path = cache_dir() / "baselines.json"
        result = _stored_baseline(path, task.program_key)
        if result is None:
            # One process measures a task's baseline; others on the same cache wait and read it.
            digest = hashlib.sha256(task.program_key.encode()).hexdigest()[:16]
            with file_lock(cache_dir() / "locks" / f"baseline-{digest}"):
                result = _stored_baseline(path, task.program_key) or self._measure_baseline(task, path)
        self._baselines[task.program_key] = result
        return result

    @contextlib.contextmanager
    def timing_as(self, **changes: Any) -> Iterator[None]:
        """Measure with these ``TimingConfig`` fields changed inside the block (then as before)."""
        saved, self.timing = self.timing, dataclasses.replace(self.timing, **changes)
        try:
            yield
        finally:
            self.timing = saved

    def _measure_baseline(self, task: Task, path: Path) -> MeasureResult:
        with self.timing_as(repeat=3, run_timeout_s=max(self.timing.run_timeout_s, REFERENCE_TIMEOUT_S)):
            result = self.measure(task, baseline_program(task), use_cache=False)
        if not result.ok:
            raise RuntimeError(f"task {task.name}: the unscheduled program could not be measured: {result.error}")
        with file_lock(path.with_suffix(".lock")):  # other tasks' baselines are written too
            stored = json.loads(path.read_text()) if path.exists() else {}
            stored[task.program_key] = result.to_json()
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(stored, indent=1))
            tmp.replace(path)
        return result

    def _limits(self) -> tuple[float, float]:
        return (self.timing.build_timeout_s, self.timing.run_timeout_s)

    def _cached(self, key: str, threads: "int | None") -> bool:
        """Cached, and valid under this measurer's limits (a failure under smaller ones is retried),
        estimator and CPU threads."""
        entry = self.cache.get(key)
        return entry is not None and entry.answers(self._limits(), self.timing.estimator, threads)

    def _threads(self, task: Task) -> "int | None":
        """The CPU threads ``task``'s kernels run on through this measurer (``worker.kernel_threads``);
        None for a fake runner and on a GPU."""
        return None if self.fake else kernel_threads(task.target)

    def close(self) -> None:
        for builder in self.builders:
            builder.close()
        self.run_worker.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # ------------------------------------------------------------------------------ the pipeline
    def _measure_items(self, task: Task, items: list[_Item], use_cache: bool) -> list[MeasureResult]:
        threads = self._threads(task)
        if use_cache and self.store is not None and any(not self._cached(item.key, threads) for item in items):
            self.cache.update(self.store.read_new())  # what other processes on this store measured meanwhile
        to_build = collections.deque()
        for item in items:
            if use_cache and self._cached(item.key, threads):
                item.result = self.cache[item.key].result
            else:
                to_build.append(item)
        if self.fake:
            while to_build:
                item = to_build.popleft()
                mod = item.program()
                self._finish(task, item, MeasureResult(error=mod) if isinstance(mod, str) else self.runner.measure(mod))
            return [item.result for item in items]
        check_device(task, self.runner)
        to_run: collections.deque = collections.deque()
        workers = [*self._build_slots(task), self.run_worker]
        while to_build or to_run or any(w.busy for w in workers):
            if self._start_build(task, to_build) or self._start_run(task, to_run):
                continue
            busy = [w for w in workers if w.busy]
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            wait([w.conn for w in busy], timeout)
            for worker in busy:
                if worker.conn.poll(0) or time.monotonic() > worker.deadline:
                    self._collect(task, worker, to_run)
        return [item.result for item in items]

    def _start_build(self, task: Task, to_build: collections.deque) -> bool:
        idle = [b for b in self._build_slots(task) if not b.busy]
        if not idle or not to_build or (self.run_worker.busy and not self._overlaps(task)):
            return False
        item = to_build.popleft()
        mod = item.program()
        if isinstance(mod, str):  # no program: an invalid candidate
            self._finish(task, item, MeasureResult(error=mod))
            return True
        if self._tmp is None:
            sweep_build_dirs()
            self._tmp = tempfile.mkdtemp(prefix=f"{BUILD_PREFIX}{os.getpid()}-")
        item.path = os.path.join(self._tmp, f"{uuid.uuid4().hex}.so")
        idle[0].submit(("build", tvm.ir.save_json(mod), str(task.target), item.path), self.timing.build_timeout_s, item)
        return True

    def _start_run(self, task: Task, to_run: collections.deque) -> bool:
        building = any(b.busy for b in self._build_slots(task))
        if self.run_worker.busy or not to_run or (building and not self._overlaps(task)):
            return False
        if not self.run_worker.alive:
            self._references.clear()  # the next job starts a new worker, which has none yet
        if task.program_key not in self._references:  # the outputs of the program: every space shares them
            self.run_worker.submit(
                ("reference", task.program_key, tvm.ir.save_json(task.mod), str(task.target), self.timing.seed),
                REFERENCE_TIMEOUT_S,
                "reference",
            )
            return True
        item = to_run.popleft()
        # Until the worker holds the run lock (it says "started"), it may wait for other processes.
        job = ("run", task.program_key, item.path, self.timing, self.runner, self.best_so_far(task))
        self.run_worker.submit(job, LOCK_WAIT_S, item)
        return True

    def _collect(self, task: Task, worker: WorkerProcess, to_run: collections.deque) -> None:
        job = worker.job
        try:
            kind, payload = worker.receive()
        except WorkerLost as lost:
            kind, payload = "error", str(lost)
        if job == "reference":
            if kind == "error":
                self._fail_all_runs(task, to_run, f"the reference run of {task.name} failed: {payload}")
            else:
                self._references.add(task.program_key)
            return
        item: _Item = job
        if kind == "started":  # the run holds the lock: from now on it has its own timeout
            item.started = True
            worker.restart_clock(item, self.timing.run_timeout_s)
            return
        if kind == "error" and worker is self.run_worker and not item.started:
            # The run never started (it waited for the run lock that other processes' kernels held,
            # or its worker was lost first): this says nothing about the kernel, so it is neither
            # cached nor stored, and the next request measures it.
            error = f"not measured: the run did not start ({payload})"
            self._finish(task, item, MeasureResult(error=error), keep=False)
            return
        if kind == "built":
            item.build_s = payload
            to_run.append(item)
        elif kind == "result":
            payload.build_s = item.build_s
            self._finish(task, item, payload)
        else:
            self._finish(task, item, MeasureResult(error=payload, build_s=item.build_s))

    def _fail_all_runs(self, task: Task, to_run: collections.deque, error: str) -> None:
        while to_run:
            self._finish(task, to_run.popleft(), MeasureResult(error=error))

    def _finish(self, task: Task, item: _Item, result: MeasureResult, keep: bool = True) -> None:
        item.result = result
        if item.path:  # the library, and the packed-weights kernel and its argument shapes if any
            for path in (item.path, item.path + TIMED_SUFFIX, item.path + TIMED_SUFFIX + ".json"):
                Path(path).unlink(missing_ok=True)
        if result.ok and task.key in self._best:
            self._best[task.key] = min(result.latency_s, self._best[task.key] or float("inf"))
        if keep:
            self.measured += 1
            self.record(task, item.space, item.decisions, result, runner=str(self.runner))


def default_builders() -> int:
    """Build workers a measurer has unless told: one per core on up to 2 cores (where builds and timed
    kernels take turns: ``Measurer._build_slots``), else all cores but 2 (the run worker and the
    search's own process), at most 8."""
    cores = os.cpu_count() or 1
    return max(min(2, cores), min(8, cores - 2))


def baseline_program(task: Task) -> tvm.IRModule:
    """What speedups are relative to: the unscheduled program; on a GPU, where a kernel needs its
    loops bound to threads, MetaSchedule's ``RewriteUnboundBlock`` of it (each block's outer spatial
    loops fused and bound to thread blocks of the target's size; TVM's ``DefaultGPUSchedule`` pass
    fails on conv2d with padding in 0.27)."""
    if not is_gpu(task.target):
        return task.mod
    from msgym._tvm import Schedule, ms

    bind = ms.postproc.RewriteUnboundBlock(max_threadblocks=256)
    ms.TuneContext(  # gives the postprocessor the target
        mod=task.mod,
        target=task.target,
        space_generator=ms.space_generator.PostOrderApply(sch_rules=[], postprocs=[bind], mutator_probs={}),
        task_name=task.name,
    )
    sch = Schedule(task.mod)
    if not bind.apply(sch):
        raise RuntimeError(f"task {task.name}: its unscheduled program could not be bound to GPU threads")
    return sch.mod


def check_device(task: Task, runner: runners.Runner) -> None:
    """A GPU task measured here needs a GPU here: say so once, before anything is built."""
    if is_gpu(task.target) and isinstance(runner, runners.LocalRunner) and not has_gpu():
        from msgym._tvm import NoDeviceError

        raise NoDeviceError(
            f"task {task.name} targets {task.target.kind.name}, and this machine has no CUDA GPU to run it on; "
            "measure on a machine with one (or through an RPC runner whose server has one)"
        )


def sweep_build_dirs() -> int:
    """Remove the build folders of measurers whose process died without closing them (``kill -9``);
    returns how many were removed."""
    removed = 0
    for folder in Path(tempfile.gettempdir()).glob(f"{BUILD_PREFIX}*-*"):
        pid = folder.name[len(BUILD_PREFIX) :].partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


def _stored_baseline(path: Path, task_key: str) -> MeasureResult | None:
    stored = json.loads(path.read_text()) if path.exists() else {}
    return MeasureResult.from_json(stored[task_key]) if task_key in stored else None
