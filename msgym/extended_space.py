"""The extended design space (``space="extended"``): what MetaSchedule's CPU rules fix becomes a decision.

MetaSchedule's LLVM rules end with ``ParallelizeVectorizeUnroll``, which marks the root block with a
*fixed* parallel extent (16 jobs per core), a *fixed* vectorization limit (64 lanes) and a sampled
unroll depth; its postprocessor then fuses outer loops up to that parallel extent and vectorizes
inner loops up to that limit. The extended space replaces that one rule with
``SampledParallelVectorizeUnroll``, which samples all three (``SampleCategorical``: the parallel
granularity, jobs per core; the widest loop to vectorize; the unroll depth) and marks the root block
with the sampled values, read by the same postprocessor. Every other rule is MetaSchedule's, so its
guarantees hold: options are exactly the candidates (every one gives a program), records replay,
and exported databases compile with ``compile_tir``/``compile_relax``, which replay the trace.

**Packing.** Where a task has inputs that a deployed model holds as constants (the weight of a
built-in GEMM or convolution; for a model's task, what its relax program feeds with constants:
``constant_inputs``), the extended space also holds MetaSchedule's spaces of
the program with those inputs marked layout-free: its ``RewriteLayout`` postprocessor then packs
them into the layout the kernel's tiles read (a copy block marked as a layout-rewrite preprocess).
Which space an episode walks is its first decision, so packing on or off is a decision too. As a
deployed model does it once when it is compiled (``tune-model`` builds with TVM's weight
prepacking, which folds the copy into the constants), the measurer checks the whole program's
output but times the kernel without the copy, on inputs in the packed layout (``measure/worker.py``).

**On a GPU** the extended space lifts MetaSchedule's shared-memory ceiling: its CUDA rules stage
tiles in static shared memory, which a block may hold at most 48 KB of, while the GPU gives a block
that asks for it far more dynamic shared memory (227 KB on sm_90; cuBLAS's GEMMs use it). Here the
multi-level tiling rule stages in ``shared.dyn`` and the rules and postprocessors see the target's
opt-in limit (``space_target``), so larger tiles become candidates; TVM's CUDA runtime raises a
kernel's dynamic shared memory limit when it launches one that needs more than 48 KB. (float32
GEMM 2048 on an H200 stayed at 0.67x cuBLAS in the default space: BENCHMARKS.md, "CUDA targets".)

Not yet a decision: the inner loop order.
"""

from __future__ import annotations

from typing import Any

from msgym._tvm import host_cores, is_gpu, ms, tvm
from msgym.tasks.task import SPACE_KINDS, Task

__all__ = [
    "SampledParallelVectorizeUnroll",
    "space_generator",
    "space_modules",
    "constant_inputs",
    "packed_module",
    "from_default",
    "JOBS_PER_CORE",
    "VECTOR_LANES",
    "UNROLL_STEPS",
    "SHARED_OPTIN_BYTES",
    "space_target",
]


JOBS_PER_CORE = (1, 4, 16, 64)  # the parallel granularity; MetaSchedule fixes 16
VECTOR_LANES = (8, 16, 32, 64)  # the widest loop vectorized; MetaSchedule fixes 64
UNROLL_STEPS = (0, 16, 64, 512)  # MetaSchedule's own options (it samples these too)
# The most shared memory one block may use when it opts in (dynamic shared memory), by compute
# capability: CUDA C++ Programming Guide, "Technical Specifications per Compute Capability".
SHARED_OPTIN_BYTES = {
    "sm_70": 98304,
    "sm_72": 98304,
    "sm_75": 65536,
    "sm_80": 166912,
    "sm_86": 101376,
    "sm_87": 166912,
    "sm_89": 101376,
    "sm_90": 232448,
}


def _root(sch: Any, block: Any) -> bool:
    return sch.get_sref(block).parent is None


@tvm.ir.utils.derived_object
class SampledParallelVectorizeUnroll(ms.schedule_rule.PyScheduleRule):
    """``ParallelizeVectorizeUnroll`` with its parallel extent and vector limit sampled too."""

    def __init__(self, cores: int = 1):
        super().__init__()
        self.cores = cores

    def _initialize_with_tune_context(self, context: Any) -> None:
        self.cores = int(context.target.attrs.get("num-cores", self.cores))

    def apply(self, sch: Any, block: Any) -> list:
        if not _root(sch, block):
            return [sch]
        uniform = lambda n: [1.0 / n] * n  # noqa: E731
        jobs = sch.sample_categorical([j * self.cores for j in JOBS_PER_CORE], uniform(len(JOBS_PER_CORE)))
        lanes = sch.sample_categorical(list(VECTOR_LANES), uniform(len(VECTOR_LANES)))
        unroll = sch.sample_categorical(list(UNROLL_STEPS), uniform(len(UNROLL_STEPS)))
        sch.annotate(block, "meta_schedule.parallel", jobs)
        sch.annotate(block, "meta_schedule.vectorize", lanes)
        sch.annotate(block, "meta_schedule.unroll_explicit", unroll)
        return [sch]

    def clone(self) -> "SampledParallelVectorizeUnroll":
        return SampledParallelVectorizeUnroll(self.cores)


def space_target(kind: str, target: tvm.target.Target) -> tvm.target.Target:
    """The target a space's rules and postprocessors see: in the extended space on a GPU whose
    architecture ``SHARED_OPTIN_BYTES`` knows, with the block's shared-memory limit at its opt-in
    maximum (``VerifyGPUCode`` rejects what passes ``max_shared_memory_per_block``)."""
    if kind != "extended" or not is_gpu(target):
        return target
    arch = str(target.attrs.get("arch", "")).rstrip("af")  # sm_90a: sm_90
    optin = SHARED_OPTIN_BYTES.get(arch)
    if optin is None or optin <= int(target.attrs.get("max_shared_memory_per_block", 0)):
        return target
    return tvm.target.Target({**target.export(), "max_shared_memory_per_block": optin})


def _dynamic_shared_tiling() -> Any:
    """MetaSchedule's CUDA multi-level tiling (``ScheduleRule::DefaultCUDA``'s arguments) staging its
    read tiles in dynamic shared memory instead of static."""
    reuse = ms.schedule_rule.ReuseType
    return ms.schedule_rule.MultiLevelTiling(
        structure="SSSRRSRS",
        tile_binds=["blockIdx.x", "vthread.x", "threadIdx.x"],
        max_innermost_factor=64,
        vector_load_lens=[1, 2, 3, 4, 8, 16],
        reuse_read=reuse(req="must", levels=[4], scope="shared.dyn"),
        reuse_write=reuse(req="must", levels=[3], scope="local"),
    )


def space_generator(kind: str, target: tvm.target.Target, mod: tvm.IRModule) -> Any:
    """What ``TuneContext(space_generator=...)`` gets for a space kind: MetaSchedule's name for the
    default space; for the extended one its rules with one replaced (see module docstring): on a CPU
    the last (parallel, vector, unroll), on a GPU the multi-level tiling (dynamic shared memory)."""
    if kind not in SPACE_KINDS:
        raise ValueError(f"unknown design space {kind!r}; choose one of {', '.join(SPACE_KINDS)}")
    if kind == "default":
        return "post-order-apply"
    default = ms.TuneContext(mod=mod, target=target, space_generator="post-order-apply", task_name="rules")
    generator = default.space_generator
    if is_gpu(target):
        rules = [
            _dynamic_shared_tiling() if type(rule) is ms.schedule_rule.MultiLevelTiling else rule
            for rule in generator.sch_rules
        ]
    else:
        cores = host_cores(target)
        rules = [
            SampledParallelVectorizeUnroll(cores)
            if isinstance(rule, ms.schedule_rule.ParallelizeVectorizeUnroll)
            else rule
            for rule in generator.sch_rules
        ]
    return ms.space_generator.PostOrderApply(
        sch_rules=rules, postprocs=list(generator.postprocs), mutator_probs=dict(generator.mutator_probs)
    )


def constant_inputs(task: Task) -> tuple[int, ...]:
    """Parameters a deployed model would hold as constants: the program's own ``layout_free_buffers``
    where it names them, else the task's ``constants`` (the weight of a built-in or suite operator;
    for a model's task, the parameters its relax program feeds with constants)."""
    attrs = task.func.attrs
    if attrs is not None and "layout_free_buffers" in attrs:
        return tuple(int(i) for i in attrs["layout_free_buffers"])
    return task.constants


def packed_module(task: Task) -> tvm.IRModule:
    """The task's program with its constant inputs marked layout-free (MetaSchedule packs them)."""
    return tvm.IRModule({"main": task.func.with_attr("layout_free_buffers", list(constant_inputs(task)))})


def space_modules(task: Task) -> list[tvm.IRModule]:
    """The programs whose design spaces make up the task's: its own; in the extended space on a CPU,
    also the program with its constant inputs marked layout-free (packed), where it has any that
    the program does not mark already."""
    attrs = task.func.attrs
    marked = attrs is not None and "layout_free_buffers" in attrs
    inputs = constant_inputs(task)
    if task.space_kind != "extended" or is_gpu(task.target) or marked or not inputs:
        return [task.mod]
    return [task.mod, packed_module(task)]


def from_default(space: int, decisions: list) -> tuple[int, list]:
    """The extended-space candidate that is a default-space candidate (same program, unpacked):
    MetaSchedule's fixed parallel and vector values inserted before its unroll decision, the last."""
    return space, [*decisions[:-1], JOBS_PER_CORE.index(16), VECTOR_LANES.index(64), decisions[-1]]
