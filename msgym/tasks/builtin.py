"""Built-in tasks: operators of MetaSchedule's ``te_workload`` suite (Ansor's), by name or ``KEY/INDEX``."""

from __future__ import annotations

import dataclasses

from msgym._tvm import tvm
from msgym.tasks.task import TaskError

__all__ = ["Workload", "BUILTIN_TASKS", "SUITE_OPERATORS", "builtin_names", "suite_workload"]


@dataclasses.dataclass(frozen=True)
class Workload:
    """A built-in task: an operator of MetaSchedule's ``te_workload`` suite at one shape."""

    key: str  # the te_workload.CONFIGS key (Ansor's operator suite), or MM / C2D_NCHW (below)
    args: tuple
    summary: str

    @property
    def constants(self) -> tuple[int, ...]:
        """Its parameters that a deployed model holds as constants (``Task.constants``)."""
        return (1,) if self.key in WEIGHTED else ()

    def build(self) -> tvm.IRModule:
        from tvm import te
        from tvm.s_tir.meta_schedule.testing import te_workload

        make = getattr(te_workload, MAKERS[self.key]) if self.key in MAKERS else te_workload.CONFIGS[self.key][0]
        func = te.create_prim_func(make(*self.args))
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
    # The GPU tasks (any target): plain row-major GEMM and an NCHW conv2d, float32 and float16
    # (float16 inputs, float32 accumulation and output: tensor cores apply on a GPU).
    "gmm-2048": Workload("MM", (2048, 2048, 2048), "matmul 2048x2048x2048"),
    "gmm-2048-fp16": Workload("MM", (2048, 2048, 2048, "float16", "float32"), "matmul 2048^3 float16 in, float32 out"),
    "c2d-nchw": Workload("C2D_NCHW", (16, 56, 56, 64, 64, 3, 3, 1, 1), "conv2d NCHW 16x64x56x56, 3x3"),
    "c2d-nchw-fp16": Workload(
        "C2D_NCHW", (16, 56, 56, 64, 64, 3, 3, 1, 1, 1, "float16", "float32"), "conv2d NCHW 16x64x56x56 float16"
    ),
    "gmm-64": Workload("GMM", (1, 64, 64, 64), "matmul 64x64x64 (small)"),
    "sfm-64": Workload("SFM", (64, 64), "softmax 64x64 (small)"),
}


# Operators whose second input is a weight (a deployed model's constant): the extended space may pack it.
WEIGHTED = ("GMM", "MM", "C1D", "C2D", "C3D", "GRP", "DIL", "DEP", "T2D", "CAP", "CBR", "C2D_NCHW")

# te_workload functions outside its CONFIGS suite: (n, m, k[, in_dtype, out_dtype]) and
# (n, h, w, ci, co, kh, kw, stride, padding[, dilation, in_dtype, out_dtype]).
MAKERS = {"MM": "matmul", "C2D_NCHW": "conv2d_nchw"}


def workload_of(spec: str) -> "Workload | None":
    """The workload a task string names, if it is a built-in or a suite shape (else None)."""
    if spec in BUILTIN_TASKS:
        return BUILTIN_TASKS[spec]
    try:
        return suite_workload(spec)
    except ValueError:
        return None


def builtin_names() -> list[str]:
    return list(BUILTIN_TASKS)


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
