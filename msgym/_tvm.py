"""The one place that imports TVM and papers over 0.27's rough edges.

Every other module imports TVM names from here, so the workarounds below hold everywhere:

* ``import tvm.s_tir.tensor_intrin`` (done inside every ``ms.TuneContext``) parses ~500
  TVMScript functions, each calling ``inspect.stack()``. ``inspect.getmodule`` then scans all of
  ``sys.modules`` once per frame whose file does not exist (``<frozen ...>``); with torch loaded
  that is thousands of modules, and the import takes ~80 s here. Memoising ``getmodule`` for the
  duration of that one import brings it to ~5 s and changes no result.
* Targets are given ``mcpu`` (without it LLVM emits generic x86-64, ~3x slower GEMMs).
* ``"cuda"`` is this machine's GPU, its architecture and limits read from the device (TVM's
  ``Target.from_device`` knows only the CPU in 0.27); a CUDA target's host is this CPU.
* CUDA code is compiled with NVRTC (TVM's default, from pip's ``cuda-bindings``) where it can be
  imported, else with ``nvcc`` if one is on the PATH (``cuda_compiler``).
* GPU programs are built with ``tirx.merge_static_smem`` on (``build_config``): without it TVM 0.27's
  ``StorageRewrite`` reuses a float16 shared buffer for the float32 tile of a tensor-core GEMM with
  float32 accumulation, and the build fails ("tvm_access_ptr element type must match the source
  buffer (float16 vs float32)"): 34 of 40 such candidates of gmm-2048-fp16 that pass every
  postprocessor, and 75 of 128 trials of the H200 bench (both agents). With it, 12 of 12 of those
  failures built.
* CPU kernels run on as many threads as the target has cores (``use_threads``). TVM's thread pool
  otherwise takes half of ``std::thread::hardware_concurrency()`` on x86 (it assumes two hardware
  threads per core): one thread on this project's 2-vCPU VM, whose target says 2 cores and whose
  PyTorch references ran on 2. A GEMM 512 kernel there: 150-160 GFLOPS on the default pool,
  240-260 on two threads (PyTorch eager: 230-260).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
from collections.abc import Iterator
from typing import Any

import tvm
import tvm_ffi
from tvm.s_tir import Schedule
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.schedule import Trace

__all__ = [
    "tvm",
    "ms",
    "Schedule",
    "Trace",
    "load_tensor_intrinsics",
    "make_target",
    "NoDeviceError",
    "is_gpu",
    "device_of",
    "cuda_compiler",
    "build_config",
    "has_gpu",
    "host_cores",
    "use_threads",
    "pool_threads",
]

GPU_KINDS = ("cuda",)

_INTRINSICS_LOADED = False


@contextlib.contextmanager
def _memoised_getmodule() -> Iterator[None]:
    original = inspect.getmodule
    cache: dict[str, Any] = {}

    def getmodule(obj: Any, _filename: str | None = None) -> Any:
        key = _filename if _filename is not None else getattr(getattr(obj, "f_code", obj), "co_filename", None)
        if not isinstance(key, str):
            return original(obj, _filename)
        if key not in cache:
            cache[key] = original(obj, _filename)
        return cache[key]

    inspect.getmodule = getmodule
    try:
        yield
    finally:
        inspect.getmodule = original


def load_tensor_intrinsics() -> None:
    """Import ``tvm.s_tir.tensor_intrin`` once, fast (see module docstring)."""
    global _INTRINSICS_LOADED
    if _INTRINSICS_LOADED:
        return
    with _memoised_getmodule():
        import tvm.s_tir.tensor_intrin  # noqa: F401  pylint: disable=unused-import
    _INTRINSICS_LOADED = True


def host_cpu() -> str:
    return str(tvm.target.codegen.llvm_get_system_cpu())


class NoDeviceError(ValueError):
    """A target whose device this machine does not have (``--target cuda`` without a GPU)."""


def is_gpu(target: tvm.target.Target) -> bool:
    return target.kind.name in GPU_KINDS


def device_of(target: tvm.target.Target, session: Any = None) -> Any:
    """The device a target's kernels run on: this machine's, or an RPC session's."""
    kind = "cuda" if is_gpu(target) else "cpu"
    return session.device(kind, 0) if session is not None else tvm.device(kind, 0)


def host_cores(target: tvm.target.Target) -> int:
    """Cores of the CPU that builds, screens and checks a target's programs (a GPU target's host)."""
    host = target.host if is_gpu(target) and target.host is not None else target
    return int(host.attrs.get("num-cores", 1))


def use_threads(n: int) -> int:
    """Make TVM's CPU thread pool in this process run ``n`` threads (a CPU target's cores), and the
    processes it starts afterwards (MetaSchedule's runners) start theirs with ``n``; returns ``n``.

    TVM sizes its pool once, from ``TVM_NUM_THREADS`` when the first parallel kernel runs (else half
    the hardware threads on x86: see the module docstring); a pool made larger can be narrowed later,
    one made smaller cannot grow, and that is an error rather than a quietly slower measurement."""
    if n < 1:
        raise ValueError(f"a CPU kernel needs at least one thread, not {n}")
    os.environ["TVM_NUM_THREADS"] = str(n)  # read by TVM when it makes the pool, and by child processes
    has = pool_threads(n)
    if has != n:
        raise RuntimeError(
            f"TVM's thread pool in this process already runs {has} threads and cannot run {n} "
            "(the target's cores); start the process with TVM_NUM_THREADS set to the target's num-cores"
        )
    return n


def pool_threads(n: int, get_function: Any = None) -> int:
    """Narrow a TVM thread pool to ``n`` threads where it runs another count, and return the count
    it runs then: this process's pool, or an RPC session's (``get_function=session.get_function``)."""
    get = get_function or tvm.get_global_func
    if int(get("runtime.NumThreads")()) != n:
        get("runtime.config_threadpool")(0, n)  # 0: no core binding asked
    return int(get("runtime.NumThreads")())


def _cpu_spec() -> dict:
    import psutil

    return {"kind": "llvm", "mcpu": host_cpu(), "num-cores": psutil.cpu_count(logical=False) or 1}


@functools.lru_cache(maxsize=1)
def has_gpu() -> bool:
    """Whether this machine has a CUDA GPU that TVM can run on (asked once per process)."""
    return bool(tvm.cuda(0).exist)


def cuda_target_of_device() -> dict:
    """The present GPU as a target: its architecture (``sm_90`` for an H100/H200) and limits, read from
    the device; MetaSchedule's CUDA rules and its GPU-code check need them."""
    dev = tvm.cuda(0)
    if not has_gpu():
        raise NoDeviceError(
            "target cuda: this machine has no CUDA GPU (TVM finds none); run on a machine with one, or "
            'give a JSON target naming the architecture to build without running: {"kind": "cuda", "arch": "sm_90"}'
        )
    major, minor = dev.compute_version.split(".")
    return {
        "kind": "cuda",
        "arch": f"sm_{major}{minor}",
        "max_shared_memory_per_block": int(dev.max_shared_memory_per_block),
        "max_threads_per_block": int(dev.max_threads_per_block),
        "thread_warp_size": int(dev.warp_size),
        "registers_per_block": 65536,  # every architecture since sm_50
        "l2_cache_size_bytes": int(dev.l2_cache_size_bytes),
    }


# What MetaSchedule's CUDA rules need beyond the architecture (the values of every NVIDIA GPU since
# sm_50; the static shared memory a kernel may declare without opting in is 48 KiB).
CUDA_DEFAULTS = {
    "max_shared_memory_per_block": 49152,
    "max_threads_per_block": 1024,
    "thread_warp_size": 32,
    "registers_per_block": 65536,
}


def make_target(spec: str | dict | tvm.target.Target | None = None) -> tvm.target.Target:
    """A TVM target; ``None``/``"llvm"`` mean this CPU with its ``mcpu`` and core count; ``"cuda"``
    this machine's GPU (``NoDeviceError`` without one), with this CPU as its host.

    A dict, a TVM target string or tag (``nvidia/nvidia-h100``) is passed through, with ``mcpu`` added
    to LLVM targets that lack it, and to a CUDA target the limits its rules need and this CPU as host.
    """
    if isinstance(spec, tvm.target.Target):
        return spec
    if spec is None or spec == "llvm":
        return tvm.target.Target(_cpu_spec())
    if spec == "cuda":
        return tvm.target.Target({**cuda_target_of_device(), "host": _cpu_spec()})
    if isinstance(spec, str):
        import json

        try:
            spec = json.loads(spec) if spec.lstrip().startswith("{") else {"kind": spec}
        except json.JSONDecodeError as err:
            raise ValueError(
                f"target {spec!r} is not valid JSON: {err}; give e.g. 'llvm', 'cuda' or "
                '\'{"kind": "llvm", "num-cores": 2}\''
            ) from None
    spec = dict(spec)
    if spec.get("kind") not in ("llvm", *GPU_KINDS) and "tag" not in spec and "/" not in str(spec.get("kind")):
        raise ValueError(f"target kind {spec.get('kind')!r} is not supported; msgym tunes for 'llvm' and 'cuda'")
    if "/" in str(spec.get("kind")):  # a tag such as nvidia/nvidia-h100
        spec = {**tvm.target.Target(spec.pop("kind")).export(), **spec}
    if spec.get("kind") == "llvm" and "mcpu" not in spec:
        spec["mcpu"] = host_cpu()
    if spec.get("kind") == "cuda":
        if "arch" not in spec:
            raise ValueError(
                f"CUDA target {spec} names no architecture: give 'cuda' (this machine's GPU) or e.g. "
                '{"kind": "cuda", "arch": "sm_90"}'
            )
        spec = {**CUDA_DEFAULTS, **spec}
        spec.setdefault("host", _cpu_spec())
    return tvm.target.Target(spec)


def build_config(target: tvm.target.Target) -> dict:
    """The ``PassContext`` config msgym builds a target's programs with (see module docstring)."""
    return {"tirx.merge_static_smem": True} if is_gpu(target) else {}


def cuda_compiler() -> str:
    """``nvrtc`` where ``cuda.bindings`` imports (TVM's default), else ``nvcc`` if one is on the PATH.
    The build worker sets ``TVM_CUDA_COMPILE_MODE`` (TVM reads it) from this in its own process."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("cuda") is not None and importlib.util.find_spec("cuda.bindings") is not None:
        return "nvrtc"
    if shutil.which("nvcc"):
        return "nvcc"
    raise NoDeviceError(
        "no CUDA compiler: install NVRTC (pip install cuda-bindings nvidia-cuda-nvrtc nvidia-cuda-cccl) "
        "or put CUDA's nvcc on the PATH"
    )


def target_key(target: tvm.target.Target) -> str:
    """A stable string naming a target (used in cache keys and records)."""
    return str(target)


def structural_key(mod: tvm.IRModule) -> str:
    """A stable hex fingerprint of a program."""
    return f"{tvm_ffi.structural_hash(mod) & 0xFFFFFFFFFFFFFFFF:016x}"
