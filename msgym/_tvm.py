"""The one place that imports TVM and papers over 0.27's rough edges.

Every other module imports TVM names from here, so the workarounds below hold everywhere:

* ``import tvm.s_tir.tensor_intrin`` (done inside every ``ms.TuneContext``) parses ~500
  TVMScript functions, each calling ``inspect.stack()``. ``inspect.getmodule`` then scans all of
  ``sys.modules`` once per frame whose file does not exist (``<frozen ...>``); with torch loaded
  that is thousands of modules, and the import takes ~80 s here. Memoising ``getmodule`` for the
  duration of that one import brings it to ~5 s and changes no result.
* Targets are given ``mcpu`` (without it LLVM emits generic x86-64, ~3x slower GEMMs).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

import tvm
import tvm_ffi
from tvm.s_tir import Schedule
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.schedule import Trace

__all__ = ["tvm", "ms", "Schedule", "Trace", "load_tensor_intrinsics", "make_target"]

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


def make_target(spec: str | dict | tvm.target.Target | None = None) -> tvm.target.Target:
    """A TVM target; ``None``/``"llvm"`` mean this CPU with its ``mcpu`` and core count.

    A dict or TVM target string is passed through, with ``mcpu`` added to LLVM targets that lack it.
    """
    if isinstance(spec, tvm.target.Target):
        return spec
    if spec is None or spec == "llvm":
        import psutil

        spec = {"kind": "llvm", "num-cores": psutil.cpu_count(logical=False) or 1}
    if isinstance(spec, str):
        import json

        try:
            spec = json.loads(spec) if spec.lstrip().startswith("{") else {"kind": spec}
        except json.JSONDecodeError as err:
            raise ValueError(
                f"target {spec!r} is not valid JSON: {err}; give e.g. 'llvm' or "
                '\'{"kind": "llvm", "num-cores": 2}\''
            ) from None
    spec = dict(spec)
    if spec.get("kind") == "llvm" and "mcpu" not in spec:
        spec["mcpu"] = host_cpu()
    return tvm.target.Target(spec)


def target_key(target: tvm.target.Target) -> str:
    """A stable string naming a target (used in cache keys and records)."""
    return str(target)


def structural_key(mod: tvm.IRModule) -> str:
    """A stable hex fingerprint of a program."""
    return f"{tvm_ffi.structural_hash(mod) & 0xFFFFFFFFFFFFFFFF:016x}"
