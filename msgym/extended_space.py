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

Only CPU (LLVM) targets are extended; on a GPU the extended space is the default one. Not yet
decisions: the packing of a constant operand (layout rewrite), the inner loop order.
"""

from __future__ import annotations

from typing import Any

from msgym._tvm import is_gpu, ms, tvm
from msgym.tasks.task import SPACE_KINDS

__all__ = ["SampledParallelVectorizeUnroll", "space_generator", "JOBS_PER_CORE", "VECTOR_LANES", "UNROLL_STEPS"]


JOBS_PER_CORE = (1, 4, 16, 64)  # the parallel granularity; MetaSchedule fixes 16
VECTOR_LANES = (8, 16, 32, 64)  # the widest loop vectorized; MetaSchedule fixes 64
UNROLL_STEPS = (0, 16, 64, 512)  # MetaSchedule's own options (it samples these too)


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


def space_generator(kind: str, target: tvm.target.Target, mod: tvm.IRModule) -> Any:
    """What ``TuneContext(space_generator=...)`` gets for a space kind: MetaSchedule's name for the
    default space; for the extended one its LLVM rules with the last replaced (see module docstring)."""
    if kind not in SPACE_KINDS:
        raise ValueError(f"unknown design space {kind!r}; choose one of {', '.join(SPACE_KINDS)}")
    if kind == "default" or is_gpu(target):
        return "post-order-apply"
    default = ms.TuneContext(mod=mod, target=target, space_generator="post-order-apply", task_name="rules")
    generator = default.space_generator
    cores = int(target.attrs.get("num-cores", 1))
    rules = [
        SampledParallelVectorizeUnroll(cores) if isinstance(rule, ms.schedule_rule.ParallelizeVectorizeUnroll) else rule
        for rule in generator.sch_rules
    ]
    return ms.space_generator.PostOrderApply(
        sch_rules=rules, postprocs=list(generator.postprocs), mutator_probs=dict(generator.mutator_probs)
    )
