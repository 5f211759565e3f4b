"""The worker process: builds programs into shared libraries, or checks and times them.

Started by ``WorkerProcess`` as a fresh interpreter (never multiprocessing's spawn, which would
re-run the user's main script); it imports TVM once and serves jobs until its socket closes.
``MSGYM_WORKER_PRELOAD=path.py`` makes every worker import that file first (custom passes or
intrinsics; the tests use it to inject faults).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import runpy
import subprocess
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from msgym.measure.protocol import estimate, more_repeats
from msgym.measure.result import MeasureResult, TimingConfig
from msgym.measure.runners import Runner

# Workers never use torch, and ``import tvm`` imports it when installed (5 s instead of 1.7 s):
# block it so a new worker is ready sooner.
BOOT = (
    "import sys; sys.modules['torch'] = None; from multiprocessing.connection import Connection; "
    "from msgym.measure.worker import main; main(Connection(int(sys.argv[1])), int(sys.argv[2]))"
)
PARENT_POLL_S = 1.0  # how often a worker checks that its parent is alive


def _link(output: str, objects: list[str], options: Any = None, **kwargs: Any) -> None:
    """Link with ld: a TVM kernel object needs no C++ runtime, and ld is ~2x faster than g++."""
    subprocess.run(["ld", "-shared", "-o", output, *objects], check=True, capture_output=True)


INPUTS_VERSION = 2
TIMED_SUFFIX = ".timed.so"  # beside a program with packed weights: the kernel without the packing copy
PACKED_MARK = "meta_schedule.layout_rewrite_preproc"


def build(mod_json: str, target_str: str, path: str) -> float:
    """Build the program into ``path``. A program whose weights are packed (the extended space's
    layout rewrite) also gets the kernel without its packing copy, taking the packed weights as
    arguments, into ``path + TIMED_SUFFIX`` (its argument shapes beside it): a deployed model packs
    its constants once, when it is compiled, so that is what is timed; the whole program is what
    the output check runs."""
    import json

    import tvm

    from msgym._tvm import build_config, cuda_compiler, is_gpu

    start = time.perf_counter()
    target = tvm.target.Target(json.loads(target_str))
    if is_gpu(target) and "TVM_CUDA_COMPILE_MODE" not in os.environ:
        os.environ["TVM_CUDA_COMPILE_MODE"] = cuda_compiler()  # this worker's own environment: TVM reads it
    mod = tvm.ir.load_json(mod_json)
    with tvm.transform.PassContext(config=build_config(target)):
        _build_into(mod, target, path)
    return time.perf_counter() - start


def _build_into(mod: Any, target: Any, path: str) -> None:
    import json

    import tvm

    _export(tvm.tirx.build(mod, target=target), path)
    attrs = mod["main"].attrs
    if attrs is not None and "layout_free_buffers" in attrs and PACKED_MARK in mod.script(show_meta=False):
        from tvm.s_tir.meta_schedule.arg_info import ArgInfo

        timed = tvm.s_tir.transform.RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
        _export(tvm.tirx.build(timed, target=target), path + TIMED_SUFFIX)
        specs = [[[int(d) for d in a.shape], str(a.dtype)] for a in ArgInfo.from_prim_func(timed["main"])]
        with open(path + TIMED_SUFFIX + ".json", "w") as f:
            json.dump(specs, f)


def _export(lib: Any, path: str) -> None:
    try:
        lib.export_library(path, fcompile=_link)
    except subprocess.CalledProcessError:
        lib.export_library(path)  # the default toolchain


def timed_inputs(inputs: list[Any], specs: list, seed: int) -> list[Any]:
    """The packed kernel's arguments: the task's own where the shape is unchanged, seeded random
    values in the packed layout for the packed weights (the values do not change the time; the
    output was checked on the whole program)."""
    import numpy as np

    from msgym.tasks.task import random_array

    rng = np.random.default_rng(seed)
    out = []
    for arr, (shape, dtype) in zip(inputs, specs):
        same = tuple(arr.shape) == tuple(shape) and str(arr.dtype) == dtype
        out.append(arr if same else random_array(rng, tuple(shape), dtype))
    return out


def reference_program(mod: Any) -> Any:
    """The unscheduled program with each block's outermost loop made parallel where it is a spatial
    loop: the same arithmetic in the same order for every output element, on every core (an
    unscheduled GEMM 2048 takes 49 s on 2 cores here; GPU tasks are that large)."""
    from msgym._tvm import Schedule

    sch = Schedule(mod)
    for block in sch.get_child_blocks(sch.get_sblock("root")):
        try:
            sch.parallel(sch.get_loops(block)[0])
        except Exception:  # noqa: BLE001 - a reduction or opaque outer loop stays serial
            pass
    return sch.mod


class Reference:
    """Seeded inputs and the expected outputs of one task: its unscheduled program's outputs,
    computed once per machine on this CPU (also for a GPU task: the target's host) and kept in the
    cache folder (unscheduled programs are slow)."""

    def __init__(self, task_key: str, task_json: str, target_str: str, seed: int):
        import hashlib
        import json

        import numpy as np
        import tvm

        from msgym._tvm import is_gpu
        from msgym.measure.store import cache_dir
        from msgym.tasks import Task

        mod = tvm.ir.load_json(task_json)
        self.task = Task(name="reference", mod=mod, target=tvm.target.Target(json.loads(target_str)), spec="")
        self.inputs = self.task.random_inputs(seed)
        self._buffers: dict[tuple, list] = {}  # (which arrays, device): sets of tensors (``argument_sets``)
        # INPUTS_VERSION: the inputs ``Task.random_inputs`` makes (2: integers 0 or 1); a change of
        # them must not meet outputs computed from the old ones.
        digest = hashlib.sha256(f"{task_key}|{seed}|inputs-v{INPUTS_VERSION}".encode()).hexdigest()[:24]
        path = cache_dir() / "references" / f"{digest}.npz"
        if path.exists():
            with np.load(path) as stored:
                self.expected = [stored[f"arg{i}"] for i in range(len(self.inputs))]
            return
        target = self.task.target
        lib = tvm.tirx.build(reference_program(mod), target=target.host if is_gpu(target) else target)
        args = [tvm.runtime.tensor(a) for a in self.inputs]
        lib["main"](*args)
        self.expected = [a.numpy() for a in args]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.npz")
        np.savez(tmp, **{f"arg{i}": a for i, a in enumerate(self.expected)})
        tmp.replace(path)

    def argument_sets(self, dev: Any, count: int, arrays: "list[Any] | None" = None, key: str = "inputs") -> list:
        """``count`` sets of the kernel's arguments on ``dev``, each holding ``arrays`` (the task's
        inputs unless given): the same buffers at every call of this worker, the first set's values
        reset from ``arrays`` (the output check runs on it, and sees only what this kernel wrote; a
        kernel that passed writes the same outputs into the others).

        Why: where a kernel's arrays lie in memory moves its time, and a kernel timed on one
        placement carries that placement's luck. The fastest of 16 random GEMM 512 kernels (Zen 5,
        2.9 ms on both cores; ``experiments/placements.py``) on 8 sets of buffers allocated one
        after another, each timed 6 times, interleaved: the sets' mean latencies spread with a CV
        of 3.0% (2.92 to 3.22 ms), the repeats within one set 1.0%; 40 calls on the same set 0.8%,
        on a fresh set at every call (every measurement before) 3.9%. Neither page-aligned nor 2 MB
        huge-page buffers made fresh sets agree (one thread: 2.5-3.2%, 3.8%): what the VM's host
        maps is out of reach. So a kernel's repeats are shared out among several placements
        (``TimingConfig.placements``), the same for every candidate of the task (BENCHMARKS.md,
        "Issue 13: where the arrays lie")."""
        import tvm

        arrays = self.inputs if arrays is None else arrays
        where = (key, str(dev))
        held = self._buffers.get(where)
        shapes = [(tuple(a.shape), str(a.dtype)) for a in arrays]
        if held is None or len(held) != count or [(tuple(t.shape), str(t.dtype)) for t in held[0]] != shapes:
            held = self._buffers[where] = [[tvm.runtime.tensor(a, dev) for a in arrays] for _ in range(count)]
            return held
        for tensor, array in zip(held[0], arrays):
            tensor.copyfrom(array)
        return held

    def check(self, got: list[Any]) -> str | None:
        import numpy as np

        for i, (exp, out) in enumerate(zip(self.expected, got)):
            dtype = str(exp.dtype)
            rtol, atol = self.task.tolerance(dtype)
            close = np.isclose(out, exp, rtol=rtol, atol=atol, equal_nan=True)
            if not close.all():
                diff = np.abs(out.astype("float64") - exp.astype("float64"))
                return (
                    f"wrong output: argument {i} ({dtype}) differs from the reference in "
                    f"{int((~close).sum())} of {exp.size} elements, max abs error {float(np.nanmax(diff)):.3g} "
                    f"(rtol={rtol}, atol={atol})"
                )
        return None


def _open(runner: Runner, paths: list[str], target: Any, threads: "int | None"):
    """The loaded libraries and their device (the target's: CPU or GPU), here (TVM's pool set to
    ``threads``) or on one RPC server whose CPU kernels run on ``threads`` threads (else a
    ``RuntimeError`` saying so); a closer; and which machine it is (``local``, or the server's
    address as the tracker gave it), recorded with the result."""
    import tvm

    from msgym._tvm import device_of, use_threads

    if runner.name == "local":
        if threads is not None:
            use_threads(threads)
        return [tvm.runtime.load_module(p) for p in paths], device_of(target), lambda: None, "local"
    session, server = _request(runner)
    if threads is not None:
        _check_server_threads(session, threads, server)
    names = [os.path.basename(p) for p in paths]
    for path in paths:
        session.upload(path)
    libs = [session.load_module(name) for name in names]

    def close() -> None:
        for name in names:
            session.remove(name)

    return libs, device_of(target, session), close, server


def _request(runner: Runner) -> tuple:
    """A session with a free server under ``runner.key``, and that server's address.

    What TVM's ``TrackerSession.request`` does (0.27), keeping the address it does not return:
    anyone who reaches the tracker can register a server, so results name the one that made them."""
    from tvm import rpc
    from tvm.rpc import base

    tracker = rpc.connect_tracker(runner.host, runner.port)  # connected
    base.sendjson(tracker._sock, [base.TrackerCode.REQUEST, runner.key, "", 1])
    value = base.recvjson(tracker._sock)
    if value[0] != base.TrackerCode.SUCCESS:
        raise RuntimeError(f"the tracker refused the request for key {runner.key!r}: {value!s}")
    url, port, matchkey = value[1]
    session = rpc.connect(url, port, matchkey, int(runner.session_timeout_s))
    return session, f"rpc://{url}:{port} (key {runner.key})"


def run(
    ref: Reference, path: str, timing: TimingConfig, runner: Runner, best_s: "float | None" = None
) -> MeasureResult:
    """Check the kernel's output, then time it: repeats as the protocol asks (``protocol.py``),
    more for a contender (within ``timing.contender_ratio`` of ``best_s``, the task's best so far)."""
    from msgym._tvm import is_gpu

    start = time.perf_counter()
    threads = kernel_threads(ref.task.target)
    packed = os.path.exists(path + TIMED_SUFFIX)  # weights packed: time the kernel without the copy
    paths = [path, path + TIMED_SUFFIX] if packed else [path]
    libs, dev, close, server = _open(runner, paths, ref.task.target, threads)
    gpu = is_gpu(ref.task.target)  # timed by the device's own timer (time_evaluator: CUDA events)
    try:
        lib = libs[0]
        func = lib["main"]
        local = runner.name == "local"
        sets = _argument_sets(ref, dev, timing, local)
        args = sets[0]
        func(*args)
        dev.sync()
        error = ref.check([a.numpy() for a in args])
        if error is not None:
            return MeasureResult(error=error, run_s=time.perf_counter() - start, server=server)
        if packed:
            import json

            with open(path + TIMED_SUFFIX + ".json") as f:
                specs = json.load(f)
            lib = libs[1]
            func = lib["main"]
            sets = _argument_sets(ref, dev, timing, local, timed_inputs(ref.inputs, specs, timing.seed), "timed")
            args = sets[0]
        t0 = time.perf_counter()
        func(*args)
        dev.sync()
        first_s = time.perf_counter() - t0
        for _ in range(max(0, timing.warmup - 1)):
            func(*args)
        if first_s > timing.slow_kernel_s and local and not timing.cache_flush and not gpu:
            # Repeats timed from Python: at tens of ms a microsecond of call overhead is noise-free,
            # and it skips time_evaluator's extra warm-up run (the output check warmed it). One
            # placement: such a kernel is far from the best, where precision matters less.
            timing = dataclasses.replace(timing, repeat=timing.slow_repeat)

            def timed(n: int, done: int) -> list[float]:
                return _time_slow(func, args, dev, n)

        else:
            timed = _evaluator(lib, dev, timing, gpu, sets)
        repeats: list[float] = []
        chunks = 0
        while (n := more_repeats(repeats, timing, best_s, chunks)) > 0:
            if chunks and timing.gap_ms > 0:
                time.sleep(timing.gap_ms / 1e3)  # the next chunk at another moment (TimingConfig.gap_ms)
            repeats += timed(n, len(repeats))
            chunks += 1
        return MeasureResult(
            latency_s=estimate(repeats, timing.estimator),
            repeats=repeats,
            estimator=timing.estimator,
            run_s=time.perf_counter() - start,
            server=server,
            threads=threads,
        )
    finally:
        close()


def _argument_sets(
    ref: Reference, dev: Any, timing: TimingConfig, local: bool, arrays: "list[Any] | None" = None, key: str = "inputs"
) -> list:
    """The sets of arguments a kernel is checked (the first) and timed on: the worker's own, reused
    (``Reference.argument_sets``); fresh ones where ``timing.reuse_buffers`` is off or the kernel
    runs on a remote session (its device is new at every call)."""
    import tvm

    count = timing.placements
    if local and timing.reuse_buffers:
        return ref.argument_sets(dev, count, arrays, key)
    arrays = ref.inputs if arrays is None else arrays
    return [[tvm.runtime.tensor(a, dev) for a in arrays] for _ in range(count)]


def _evaluator(lib: Any, dev: Any, timing: TimingConfig, gpu: bool, sets: list) -> Any:
    """``timed(n, done)``: ``n`` more repeats by TVM's ``time_evaluator``, repeat ``i`` of the
    kernel's (``done`` before these) on argument set ``i % len(sets)``: one evaluator call per set,
    each with its own untimed warm-up run, which brings that set's arrays into the caches."""

    def timed(n: int, done: int) -> list[float]:
        out: list[float] = []
        for k, args in enumerate(sets):
            share = sum(1 for i in range(done, done + n) if i % len(sets) == k)
            if share:
                evaluator = lib.time_evaluator(
                    "main",
                    dev,
                    number=timing.number,
                    repeat=share,
                    min_repeat_ms=timing.min_repeat_ms,
                    f_preproc="cache_flush_cpu_non_first_arg" if timing.cache_flush and not gpu else "",
                )
                out += [float(r) for r in evaluator(*args).results]
        return out

    return timed


def kernel_threads(target: Any) -> "int | None":
    """The CPU threads a target's kernels run on: a CPU target's cores (TVM's pool here,
    ``_tvm.use_threads``, or an RPC server's, which is checked); None on a GPU."""
    from msgym._tvm import host_cores, is_gpu

    return None if is_gpu(target) else host_cores(target)


def _check_server_threads(session: Any, threads: int, server: str) -> None:
    """An RPC server's CPU kernels run on ``threads`` threads, or a ``RuntimeError`` says why not. Its
    TVM pool is sized when the server's process makes it (``TVM_NUM_THREADS``, else half the
    hardware threads on x86: ``_tvm.use_threads``) and can only be narrowed from here."""
    from msgym._tvm import pool_threads

    has = pool_threads(threads, session.get_function)
    if has != threads:
        raise RuntimeError(
            f"the RPC server {server} runs CPU kernels on {has} threads, the target has {threads} cores: "
            f"start it with TVM_NUM_THREADS={threads} (or give a target whose num-cores is {has})"
        )


def _time_slow(func: Any, args: list, dev: Any, repeat: int) -> list[float]:
    repeats = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func(*args)
        dev.sync()
        repeats.append(time.perf_counter() - t0)
    return repeats


@contextlib.contextmanager
def run_lock(runner: Runner) -> Iterator[None]:
    """Hold this machine's run lock while a kernel runs here, so that kernels measured by other
    processes (parallel environments, other searches) never run at the same time. The kernel
    runs elsewhere for an RPC runner: no lock then. The OS releases it if the worker dies."""
    if runner.name != "local":
        yield
        return
    from msgym.measure.store import cache_dir, file_lock

    with file_lock(cache_dir() / "run.lock"):
        yield


def die_with_parent(parent_pid: int) -> None:
    """End this worker when the process that started it ends, even if it is killed with
    ``kill -9`` while a kernel runs here: the kernel asks the OS for SIGKILL on the parent's death
    (Linux ``PR_SET_PDEATHSIG``), and a thread polls the parent too (elsewhere, or if that failed).
    An orphan would otherwise hold the machine's run lock, timing a kernel nobody waits for."""
    import ctypes
    import signal
    import threading

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # it died before the request
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="msgym-parent-watch", daemon=True).start()


def main(conn: Connection, parent_pid: "int | None" = None) -> None:
    if parent_pid is not None:
        die_with_parent(parent_pid)
    preload = os.environ.get("MSGYM_WORKER_PRELOAD")
    if preload:
        runpy.run_path(preload)
    try:
        serve(conn)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        os._exit(0)  # the parent is gone: nothing to report to, and no traceback for its log


def serve(conn: Connection) -> None:
    references: dict[str, Reference] = {}
    while True:
        job = conn.recv()
        if job is None:
            return
        try:
            if job[0] == "build":
                _, mod_json, target_str, path = job
                conn.send(("built", build(mod_json, target_str, path)))
            elif job[0] == "reference":
                _, task_key, task_json, target_str, seed = job
                references[task_key] = Reference(task_key, task_json, target_str, seed)
                conn.send(("ready", task_key))
            else:
                _, task_key, path, timing, runner, best_s = job
                with run_lock(runner):
                    conn.send(("started", None))  # the run's timeout starts now
                    conn.send(("result", run(references[task_key], path, timing, runner, best_s)))
        except Exception as err:  # noqa: BLE001 - any failure of a candidate is its error result
            conn.send(("error", f"{job[0]} failed: {type(err).__name__}: {_last_line(err)}"))


def _last_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else ""
