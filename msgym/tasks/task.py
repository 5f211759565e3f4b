"""A tuning task: a tensor program, the target it is tuned for, and how to check its output."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from msgym._tvm import structural_key, target_key, tvm

__all__ = ["Task", "TaskError", "TOLERANCES", "SPACE_KINDS", "as_module", "check_static", "gflops", "random_array"]

SPACE_KINDS = ("default", "extended")  # design spaces: MetaSchedule's, or msgym's extended one


def gflops(flops: float, latency_s: "float | None") -> float:
    """Billions of floating-point operations per second (0 without a latency): the one place the
    formula is written (tasks, the search loop, the env and the bench tables all call it)."""
    return flops / latency_s / 1e9 if latency_s else 0.0


class TaskError(ValueError):
    """A task string that names no usable tensor program."""


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
    space_kind: str = "default"  # its design space: MetaSchedule's, or msgym's extended one (extended_space.py)
    # Parameters a deployed model holds as constants (its weights): the extended space may pack them.
    constants: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_static(self.mod["main"], self.name)

    @functools.cached_property
    def func(self) -> tvm.tirx.PrimFunc:
        return self.mod["main"]

    @functools.cached_property
    def flops(self) -> float:
        return float(tvm.s_tir.analysis.estimate_tir_flops(self.mod))

    @functools.cached_property
    def program_key(self) -> str:
        """Fingerprint of program and target: what its reference outputs and baseline are keyed by."""
        return f"{structural_key(self.mod)}@{target_key(self.target)}"

    @functools.cached_property
    def key(self) -> str:
        """Fingerprint of program, target and design space: what a measurement cache is keyed by
        (the default space's keys are those of every record made before spaces had kinds)."""
        return self.program_key + ("" if self.space_kind == "default" else f"#{self.space_kind}")

    def arg_specs(self) -> list[tuple[tuple[int, ...], str]]:
        """(shape, dtype) of each parameter buffer, in call order."""
        from tvm.s_tir.meta_schedule.arg_info import ArgInfo

        specs = []
        for info in ArgInfo.from_prim_func(self.func):
            if not hasattr(info, "shape"):
                raise TaskError(
                    f"task {self.name}: parameter {info} is not a tensor; only tensor arguments are supported"
                )
            specs.append((tuple(int(dim) for dim in info.shape), str(info.dtype)))
        return specs

    def random_inputs(self, seed: int = 0) -> list[np.ndarray]:
        """Seeded arguments for every parameter; outputs are pre-filled too, so untouched
        elements compare equal and every parameter can be checked. Integers are 0 or 1: an integer
        input is often an index (a model's ``take`` picks q, k or v with a scalar into an axis of 3)
        or a mask, and a value outside its axis makes the program read memory it does not own (the
        unscheduled program itself then disagrees with its own reference)."""
        rng = np.random.default_rng(seed)
        return [random_array(rng, shape, dtype) for shape, dtype in self.arg_specs()]

    def tolerance(self, dtype: str) -> tuple[float, float]:
        return TOLERANCES.get(dtype, (0.0, 0.0))

    def gflops(self, latency_s: "float | None") -> float:
        """This task's GFLOPS at ``latency_s`` (0 without a latency)."""
        return gflops(self.flops, latency_s)

    def describe(self) -> str:
        space = "" if self.space_kind == "default" else f", {self.space_kind} design space"
        return f"{self.name} ({self.flops / 1e6:.1f} MFLOP) for {self.target}{space}"


def random_array(rng: np.random.Generator, shape: tuple, dtype: str) -> np.ndarray:
    """Floats uniform in [-1, 1); integers and booleans 0 or 1 (see ``Task.random_inputs``)."""
    if dtype.startswith("float") or dtype.startswith("bfloat"):
        return rng.uniform(-1.0, 1.0, size=shape).astype("float32").astype(dtype)
    return rng.integers(0, 2, size=shape).astype(dtype)


def check_static(func: tvm.tirx.PrimFunc, name: str) -> None:
    """Refuse a program with a symbolic (dynamic) dimension now, naming it: msgym builds, checks
    and times concrete programs, and TVM would fail much later with an unrelated error."""
    for buf in func.params:  # in TVM 0.27 a buffer parameter is the buffer itself
        shape = getattr(buf, "shape", None)
        if shape is None:
            continue
        dynamic = [str(dim) for dim in shape if not isinstance(dim, tvm.tirx.IntImm)]
        if dynamic:
            shape = ", ".join(str(dim) for dim in shape)
            raise TaskError(
                f"task {name}: parameter {buf.name} has symbolic dimension(s) {', '.join(dynamic)} "
                f"(shape [{shape}]); msgym tunes static shapes only: give every dimension a concrete size"
            )


def as_module(obj: Any, origin: str) -> tvm.IRModule:
    """Turn a PrimFunc / IRModule into a one-function IRModule named main, or explain."""
    if isinstance(obj, tvm.tirx.PrimFunc):
        return tvm.IRModule({"main": obj.with_attr("global_symbol", "main")})
    if isinstance(obj, tvm.IRModule):
        funcs = [(gv.name_hint, f) for gv, f in obj.functions.items() if isinstance(f, tvm.tirx.PrimFunc)]
        if len(funcs) != 1:
            names = ", ".join(name for name, _ in funcs) or "none"
            raise TaskError(f"{origin}: an IRModule task must hold exactly one PrimFunc; found {names}")
        return as_module(funcs[0][1], origin)
    raise TaskError(
        f"{origin}: expected a tvm.tirx.PrimFunc, an IRModule, or a zero-argument callable "
        f"returning one; found {type(obj).__module__}.{type(obj).__qualname__}"
    )
