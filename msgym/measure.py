"""Build a candidate program, check its output, and time it, in a killable worker process.

Every measurement in msgym goes through a ``Measurer``. It keeps one worker process that imports
TVM once and lives across candidates; the parent enforces a build timeout and a run timeout and
replaces a worker that hangs or crashes, so one bad candidate (LLVM has been seen to compile for
minutes, kernels to crash) becomes an error result and the run goes on.

Timing uses ``time_evaluator(number=1, repeat=5)`` and the median by default: on a GEMM 512 kernel
that costs ~15 ms with 0.2% spread, where MetaSchedule's default (number=3, min_repeat_ms=100)
costs ~112 ms with 1.6% spread. Before timing, the kernel runs once on seeded random inputs and
every argument is compared with the task's reference (the unscheduled program built by LLVM), so
a wrong kernel is an error result, never a latency.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from msgym._tvm import structural_key, tvm
from msgym.tasks import Task

__all__ = ["TimingConfig", "MeasureResult", "Measurer", "cache_dir"]


@dataclasses.dataclass(frozen=True)
class TimingConfig:
    number: int = 1  # runs averaged into one repeat
    repeat: int = 5  # repeats; the median is the latency
    min_repeat_ms: int = 2  # small kernels loop until a repeat lasts this long (less noise)
    warmup: int = 1  # untimed runs first (the correctness run counts as one)
    cache_flush: bool = False  # flush the CPU cache between repeats (inputs cold)
    build_timeout_s: float = 60.0
    run_timeout_s: float = 30.0
    seed: int = 0  # seed of the random inputs the output check uses


@dataclasses.dataclass
class MeasureResult:
    """A measurement: a median latency with its repeats, or an error saying what went wrong."""

    latency_s: float | None = None
    repeats: list[float] = dataclasses.field(default_factory=list)
    error: str | None = None
    build_s: float = 0.0
    run_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.latency_s is not None

    @property
    def cv(self) -> float:
        """Spread of the repeats: standard deviation over mean."""
        if len(self.repeats) < 2:
            return 0.0
        return statistics.pstdev(self.repeats) / statistics.fmean(self.repeats)

    def gflops(self, flops: float) -> float:
        return flops / self.latency_s / 1e9 if self.ok else 0.0

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "cv": self.cv}


def cache_dir() -> Path:
    """Where msgym keeps measured baselines: $MSGYM_CACHE_DIR or ~/.cache/msgym."""
    path = Path(os.environ.get("MSGYM_CACHE_DIR", Path.home() / ".cache" / "msgym"))
    path.mkdir(parents=True, exist_ok=True)
    return path


# ----------------------------------------------------------------------------------------------
# The worker process
# ----------------------------------------------------------------------------------------------
class _Reference:
    """Inputs and expected outputs of one task, computed once per worker."""

    def __init__(self, task_mod: Any, target: Any, seed: int):
        import numpy as np

        self.task = Task(name="reference", mod=task_mod, target=target, spec="")
        self.inputs = self.task.random_inputs(seed)
        rt = tvm.tirx.build(task_mod, target=target)
        args = [tvm.runtime.tensor(a) for a in self.inputs]
        rt[rt.entry_name](*args)
        self.expected = [a.numpy() for a in args]
        self.dtypes = [str(a.dtype) for a in self.expected]
        self._np = np

    def check(self, got: list[Any]) -> str | None:
        np = self._np
        for i, (exp, out, dtype) in enumerate(zip(self.expected, got, self.dtypes)):
            rtol, atol = self.task.tolerance(dtype)
            if not np.allclose(out, exp, rtol=rtol, atol=atol, equal_nan=True):
                diff = np.abs(out.astype("float64") - exp.astype("float64"))
                bad = int(np.count_nonzero(~np.isclose(out, exp, rtol=rtol, atol=atol, equal_nan=True)))
                return (f"wrong output: argument {i} ({dtype}) differs from the reference in {bad} of "
                        f"{exp.size} elements, max abs error {float(np.nanmax(diff)):.3g} (rtol={rtol}, atol={atol})")
        return None


def _worker_main(conn: Any) -> None:
    references: dict[str, _Reference] = {}
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        task_key, task_json, target_json, mod_json, timing = request
        try:
            target = tvm.target.Target(json.loads(target_json))
            if task_key not in references:
                references[task_key] = _Reference(tvm.ir.load_json(task_json), target, timing.seed)
            ref = references[task_key]
            t0 = time.perf_counter()
            rt = tvm.tirx.build(tvm.ir.load_json(mod_json), target=target)
            conn.send(("built", time.perf_counter() - t0))
            t1 = time.perf_counter()
            dev = tvm.cpu()
            args = [tvm.runtime.tensor(a, dev) for a in ref.inputs]
            rt[rt.entry_name](*args)
            error = ref.check([a.numpy() for a in args])
            if error is not None:
                conn.send(("result", MeasureResult(error=error, run_s=time.perf_counter() - t1)))
                continue
            for _ in range(max(0, timing.warmup - 1)):
                rt[rt.entry_name](*args)
            evaluator = rt.time_evaluator(
                rt.entry_name, dev, number=timing.number, repeat=timing.repeat, min_repeat_ms=timing.min_repeat_ms,
                f_preproc="cache_flush_cpu_non_first_arg" if timing.cache_flush else "",
            )
            repeats = [float(r) for r in evaluator(*args).results]
            conn.send(("result", MeasureResult(latency_s=statistics.median(repeats), repeats=repeats,
                                               run_s=time.perf_counter() - t1)))
        except Exception as err:  # noqa: BLE001 - any failure of a candidate is its error result
            conn.send(("result", MeasureResult(error=f"{type(err).__name__}: {_last_line(err)}")))


_WORKER_BOOT = (
    "import sys; from multiprocessing.connection import Connection; "
    "from msgym.measure import _worker_main; _worker_main(Connection(int(sys.argv[1])))"
)


def _last_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else ""


# ----------------------------------------------------------------------------------------------
# The parent's side
# ----------------------------------------------------------------------------------------------
class Measurer:
    """Measures programs of tasks; one instance per process is plenty (``Measurer.shared()``)."""

    _shared: "Measurer | None" = None

    def __init__(self, timing: TimingConfig | None = None):
        self.timing = timing or TimingConfig()
        self._proc: Any = None
        self._conn: Any = None
        self._baselines: dict[str, MeasureResult] = {}
        self._memo: dict[tuple[str, str], MeasureResult] = {}
        self.worker_restarts = 0

    @classmethod
    def shared(cls) -> "Measurer":
        if cls._shared is None:
            cls._shared = Measurer()
        return cls._shared

    def measure(self, task: Task, mod: tvm.IRModule, use_cache: bool = True) -> MeasureResult:
        """Build, check and time ``mod`` (a scheduled program of ``task``)."""
        key = (task.key, structural_key(mod))
        if use_cache and key in self._memo:
            return self._memo[key]
        result = self._request(task, mod, self.timing)
        if result.error is None or "timed out" not in result.error:
            self._memo[key] = result
        return result

    def baseline(self, task: Task) -> MeasureResult:
        """The unscheduled program's latency: what speedups are relative to (cached on disk)."""
        if task.key in self._baselines:
            return self._baselines[task.key]
        path = cache_dir() / "baselines.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        if task.key in stored:
            result = MeasureResult(**{k: v for k, v in stored[task.key].items() if k != "cv"})
        else:
            slow = dataclasses.replace(self.timing, repeat=3, run_timeout_s=max(self.timing.run_timeout_s, 600.0))
            result = self._request(task, task.mod, slow)
            if not result.ok:
                raise RuntimeError(f"task {task.name}: the unscheduled program could not be measured: {result.error}")
            stored = json.loads(path.read_text()) if path.exists() else {}
            stored[task.key] = result.to_json()
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(stored, indent=1))
            tmp.replace(path)
        self._baselines[task.key] = result
        return result

    def close(self) -> None:
        if self._proc is not None:
            try:
                self._conn.send(None)
                self._proc.wait(timeout=2)
            except (OSError, BrokenPipeError):
                pass
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc = self._conn = None

    # -- worker management ---------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        """Start a worker: a fresh interpreter (not multiprocessing's spawn, which would re-run
        the user's main script) talking over a socket pair."""
        if self._proc is not None and self._proc.poll() is None:
            return
        parent, child = socket.socketpair()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER_BOOT, str(child.fileno())], pass_fds=(child.fileno(),),
        )
        child.close()
        self._conn = Connection(parent.detach())
        self._fresh = True
        self._referenced: set[str] = set()

    def _kill_worker(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=5)
        self._proc = self._conn = None
        self.worker_restarts += 1

    def _request(self, task: Task, mod: tvm.IRModule, timing: TimingConfig) -> MeasureResult:
        self._ensure_worker()
        # A new worker first imports TVM, and a task new to it first computes its reference
        # outputs (an unscheduled, slow program): both come before the build, so allow for them.
        extra = (120.0 if self._fresh else 0.0) + (600.0 if task.key not in self._referenced else 0.0)
        payload = (task.key, tvm.ir.save_json(task.mod), str(task.target), tvm.ir.save_json(mod), timing)
        try:
            self._conn.send(payload)
            built = self._receive(timing.build_timeout_s + extra, "build")
            self._fresh = False
            self._referenced.add(task.key)
            if built[0] == "result":  # the build itself failed
                return built[1]
            result = self._receive(timing.run_timeout_s, "run")[1]
            result.build_s = built[1]
            return result
        except _WorkerLost as lost:
            self._kill_worker()
            return MeasureResult(error=str(lost))

    def _receive(self, timeout: float, phase: str) -> tuple:
        try:
            if not self._conn.poll(timeout):
                raise _WorkerLost(f"{phase} timed out after {timeout:.0f} s; the worker was replaced")
            return self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            code = self._proc.wait(timeout=5) if self._proc is not None else None
            raise _WorkerLost(f"the measurement worker died during {phase} (exit code {code}); it was replaced") from None


class _WorkerLost(Exception):
    pass

