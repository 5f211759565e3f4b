"""Tuning tasks: a tensor program, the target it is tuned for, and how to check its output.

A task is named by a string so that environments stay picklable: a built-in name
(``msgym tasks`` lists them) or ``path/to/file.py:NAME`` for a user's kernel, where NAME is a
PrimFunc, an IRModule holding one PrimFunc, or a zero-argument callable returning either.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

from msgym._tvm import make_target, structural_key, target_key, tvm

__all__ = ["Task", "TaskError", "BUILTIN_TASKS", "get_task", "builtin_names"]


class TaskError(ValueError):
    """A task string that names no usable tensor program."""


@dataclasses.dataclass(frozen=True)
class Workload:
    """A built-in task: an operator of MetaSchedule's ``te_workload`` suite at one shape."""

    key: str  # the te_workload.CONFIGS key (Ansor's operator suite)
    args: tuple[int, ...]
    summary: str

    def build(self) -> tvm.IRModule:
        from tvm import te
        from tvm.s_tir.meta_schedule.testing import te_workload

        func = te.create_prim_func(te_workload.CONFIGS[self.key][0](*self.args))
        return tvm.IRModule({"main": func.with_attr("global_symbol", "main")})


BUILTIN_TASKS: dict[str, Workload] = {
    "gmm-512": Workload("GMM", (1, 512, 512, 512), "matmul 512x512x512"),
    "gmm-1024": Workload("GMM", (1, 1024, 1024, 1024), "matmul 1024x1024x1024"),
    "bmm": Workload("GMM", (8, 128, 128, 128), "batch matmul 8x128x128x128"),
    "tbg": Workload("TBG", (1, 128, 12, 64), "transposed batch matmul (attention scores)"),
    "c2d": Workload("C2D", (1, 14, 14, 256, 256, 3, 1, 1), "conv2d NHWC ResNet layer 14x14x256, 3x3"),
    "c2d-1x1": Workload("C2D", (1, 56, 56, 64, 64, 1, 1, 0), "conv2d NHWC ResNet layer 56x56x64, 1x1"),
    "dep": Workload("DEP", (1, 112, 112, 32, 3, 1, 1), "depthwise conv2d NHWC 112x112x32, 3x3"),
    "cbr": Workload("CBR", (1, 28, 28, 128, 256, 1, 2, 0), "conv2d + batch norm + relu 28x28x128"),
    "sfm": Workload("SFM", (512, 512), "softmax 512x512"),
    "nrm": Workload("NRM", (1, 256, 256), "norm over 256x256"),
    # Small shapes: cheap to build and time, used by tests and quick demos.
    "gmm-64": Workload("GMM", (1, 64, 64, 64), "matmul 64x64x64 (small)"),
    "sfm-64": Workload("SFM", (64, 64), "softmax 64x64 (small)"),
}

# Per-dtype tolerances for comparing a candidate's output with the reference (rtol, atol).
TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-7, 1e-7),
    "float32": (1e-3, 1e-4),
    "float16": (1e-2, 1e-2),
    "bfloat16": (2e-2, 2e-2),
}


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """A tensor program to tune for one target."""

    name: str
    mod: tvm.IRModule
    target: tvm.target.Target
    spec: str  # the string that recreates this task with get_task()

    @functools.cached_property
    def func(self) -> tvm.tirx.PrimFunc:
        return self.mod["main"]

    @functools.cached_property
    def flops(self) -> float:
        return float(tvm.s_tir.analysis.estimate_tir_flops(self.mod))

    @functools.cached_property
    def key(self) -> str:
        """Fingerprint of program and target: what a measurement cache is keyed by."""
        return f"{structural_key(self.mod)}@{target_key(self.target)}"

    def arg_specs(self) -> list[tuple[tuple[int, ...], str]]:
        """(shape, dtype) of each parameter buffer, in call order."""
        from tvm.s_tir.meta_schedule.arg_info import ArgInfo

        specs = []
        for info in ArgInfo.from_prim_func(self.func):
            if not hasattr(info, "shape"):
                raise TaskError(f"task {self.name}: parameter {info} is not a tensor; only tensor arguments are supported")
            specs.append((tuple(int(dim) for dim in info.shape), str(info.dtype)))
        return specs

    def random_inputs(self, seed: int = 0) -> list[np.ndarray]:
        """Seeded arguments for every parameter; outputs are pre-filled too, so untouched
        elements compare equal and every parameter can be checked."""
        rng = np.random.default_rng(seed)
        arrays = []
        for shape, dtype in self.arg_specs():
            if dtype.startswith("float") or dtype.startswith("bfloat"):
                arr = rng.uniform(-1.0, 1.0, size=shape).astype("float32").astype(dtype)
            elif dtype == "bool":
                arr = rng.integers(0, 2, size=shape).astype(bool)
            elif dtype.startswith("uint"):
                arr = rng.integers(0, 8, size=shape).astype(dtype)
            else:
                arr = rng.integers(-8, 8, size=shape).astype(dtype)
            arrays.append(arr)
        return arrays

    def tolerance(self, dtype: str) -> tuple[float, float]:
        return TOLERANCES.get(dtype, (0.0, 0.0))

    def describe(self) -> str:
        return f"{self.name} ({self.flops / 1e6:.1f} MFLOP) for {self.target}"


def builtin_names() -> list[str]:
    return list(BUILTIN_TASKS)


def _as_module(obj: Any, origin: str) -> tvm.IRModule:
    """Turn a PrimFunc / IRModule into a one-function IRModule named main, or explain."""
    if isinstance(obj, tvm.tirx.PrimFunc):
        return tvm.IRModule({"main": obj.with_attr("global_symbol", "main")})
    if isinstance(obj, tvm.IRModule):
        funcs = [(gv.name_hint, f) for gv, f in obj.functions.items() if isinstance(f, tvm.tirx.PrimFunc)]
        if len(funcs) != 1:
            names = ", ".join(name for name, _ in funcs) or "none"
            raise TaskError(f"{origin}: an IRModule task must hold exactly one PrimFunc; found {names}")
        return _as_module(funcs[0][1], origin)
    raise TaskError(
        f"{origin}: expected a tvm.tirx.PrimFunc, an IRModule, or a zero-argument callable "
        f"returning one; found {type(obj).__module__}.{type(obj).__qualname__}"
    )


def load_attr(spec: str, what: str = "task") -> tuple[Any, str]:
    """The object ``NAME`` of ``path/to/file.py:NAME`` (called if it is a zero-argument callable
    other than a TVM object), and a phrase naming it for error messages."""
    path_str, _, name = spec.rpartition(":")
    path = Path(path_str)
    if not path.is_file():
        raise TaskError(f"{what} {spec!r}: no such file {path_str!r}")
    if not name.isidentifier():
        raise TaskError(f"{what} {spec!r}: {name!r} is not a Python name; use path/to/file.py:NAME")
    mod_name = f"msgym_user_{abs(hash(str(path.resolve())))}"
    try:
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[mod_name] = module
        module_spec.loader.exec_module(module)
    except Exception as err:  # the user's file: any failure is reported, naming the file
        raise TaskError(f"{what} {spec!r}: importing {path_str} failed: {type(err).__name__}: {err}") from err
    if not hasattr(module, name):
        found = sorted(k for k in vars(module) if not k.startswith("_"))
        raise TaskError(f"{what} {spec!r}: {path_str} defines no {name!r}; it defines {found}")
    obj = getattr(module, name)
    origin = f"{what} {spec!r} ({path_str}:{name})"
    torch_module = hasattr(obj, "forward") and not isinstance(obj, type)  # an nn.Module instance: keep it
    if callable(obj) and not torch_module and not isinstance(obj, (tvm.tirx.PrimFunc, tvm.IRModule)):
        try:
            obj = obj()
        except Exception as err:
            raise TaskError(f"{origin}: calling {name}() failed: {type(err).__name__}: {err}") from err
    return obj, origin


def _load_user_kernel(spec: str) -> tvm.IRModule:
    obj, origin = load_attr(spec)
    return _as_module(obj, origin)


# Operators of MetaSchedule's te_workload suite usable as ``KEY/INDEX`` (C2D_WIN_NHWC is broken).
SUITE_OPERATORS = ("C1D", "C2D", "C3D", "GMM", "GRP", "DIL", "DEP", "T2D", "CAP", "NRM", "SFM", "CBR", "TBG")


def suite_workload(spec: str) -> Workload | None:
    """``"GMM/2"``: shape 2 of the suite's GMM operator (Ansor's configs hold 4 shapes each)."""
    key, sep, index = spec.partition("/")
    if not sep or key not in SUITE_OPERATORS:
        return None
    from tvm.s_tir.meta_schedule.testing import te_workload

    shapes = te_workload.CONFIGS[key][1]
    if not index.isdigit() or int(index) >= len(shapes):
        raise TaskError(f"task {spec!r}: operator {key} has shapes 0..{len(shapes) - 1}")
    args = shapes[int(index)]
    return Workload(key, tuple(args), f"{te_workload.CONFIGS[key][0].__name__}{tuple(args)}")


@functools.lru_cache(maxsize=256)
def _load(spec: str, target_str: str) -> Task:
    target = make_target(target_str if target_str != "default" else None)
    if spec in BUILTIN_TASKS:
        return Task(name=spec, mod=BUILTIN_TASKS[spec].build(), target=target, spec=spec)
    if spec.startswith("torch:"):
        from msgym.torch_import import task_from_spec

        return task_from_spec(spec, None if target_str == "default" else target_str)
    workload = suite_workload(spec)
    if workload is not None:
        return Task(name=spec, mod=workload.build(), target=target, spec=spec)
    if ":" in spec and spec.rpartition(":")[0].endswith(".py"):
        mod = _load_user_kernel(spec)
        path, _, name = spec.rpartition(":")
        return Task(name=f"{Path(path).stem}:{name}", mod=mod, target=target, spec=spec)
    raise TaskError(
        f"unknown task {spec!r}; built-in tasks are: {', '.join(builtin_names())}; "
        f"or an operator shape of MetaSchedule's suite, KEY/INDEX with KEY one of {', '.join(SUITE_OPERATORS)} "
        "(e.g. GMM/2); or path/to/file.py:NAME for your own kernel"
    )


def get_task(task: "str | Task", target: "str | dict | None" = None) -> Task:
    """The task named by a string (built-in name, suite shape ``KEY/INDEX`` or ``file.py:NAME``),
    or ``task`` itself."""
    if isinstance(task, Task):
        return task
    if not isinstance(task, str):
        raise TaskError(f"a task is a name or a Task, not {type(task).__name__}")
    import json

    target_str = "default" if target is None else (json.dumps(target, sort_keys=True) if isinstance(target, dict) else str(target))
    return _load(task, target_str)
