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
MetaSchedule's evolutionary search runs on it too (the ``learned`` agent): ``MutateRootDecision``
mutates the root rule's decisions, and ``MutateParallel`` is left out (it rewrites a parallel
extent that is a constant in the default space and a sampled variable here).

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

**The inner loop order.** MetaSchedule's CPU multi-level tiling (structure ``SSRSRS``) always
orders a tiled block's innermost levels S2 R1 S3: for each inner spatial tile, reduce over the inner
reduction tile, updating the innermost spatial tile (for a GEMM: ``i2 j2 k1 i3 j3``). Where a program
has such a block the root rule samples one of ``INNER_ORDERS`` too and marks the root block with it;
``RewriteInnerOrder``, the first postprocessor, reorders each such block's inner loops by it and
removes the mark. The options: MetaSchedule's order; the innermost spatial loop alone inside the
reduction (``i2 j2 i3 k1 j3``: a row of accumulators per k step, the micro-kernel of oneDNN's
direct convolutions, output channels innermost); the reduction outside both inner spatial levels
(``k1 i2 j2 i3 j3``: the whole S2 x S3 tile updated per k step). Where a producer was computed
inside those loops (they no longer nest one in another) the order stays MetaSchedule's, so every
option gives a program. What it is worth (BENCHMARKS.md, issue 15): on the GEMM 1024 kernels two
512-trial searches found, their order (``R1 S2 S3``) ran 1.54-1.62x MetaSchedule's with the same
tiles; on GEMM 512 and conv2d the order found was no better than MetaSchedule's.
"""

from __future__ import annotations

import random
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
    "root_decisions",
    "JOBS_PER_CORE",
    "VECTOR_LANES",
    "UNROLL_STEPS",
    "INNER_ORDERS",
    "RewriteInnerOrder",
    "MutateRootDecision",
    "SHARED_OPTIN_BYTES",
    "space_target",
    "program_context",
    "space_contexts",
]


JOBS_PER_CORE = (1, 4, 16, 64)  # the parallel granularity; MetaSchedule fixes 16
VECTOR_LANES = (8, 16, 32, 64)  # the widest loop vectorized; MetaSchedule fixes 64
UNROLL_STEPS = (0, 16, 64, 512)  # MetaSchedule's own options (it samples these too)
# The order of a multi-level-tiled block's innermost levels (S2 R1 S3; s3 is S3's last loop, the
# one vectorized, S3' the rest): MetaSchedule's first, the only one it has.
_REORDERS = {  # order name -> the loops (S2, R1, S3 as lists) in that order
    "S2 R1 S3": lambda s2, r1, s3: s2 + r1 + s3,
    "S2 S3' R1 s3": lambda s2, r1, s3: s2 + s3[:-1] + r1 + s3[-1:],
    "R1 S2 S3": lambda s2, r1, s3: r1 + s2 + s3,
}
INNER_ORDERS = tuple(_REORDERS)
INNER_ORDER_KEY = "msgym.inner_order"  # the root block's mark, read by RewriteInnerOrder
TILING_KEY = "meta_schedule.tiling_structure"  # MultiLevelTiling's mark on the blocks it tiled
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


def _tiled_tail(sch: Any, block: Any) -> "list | None":
    """The innermost levels (S2, R1, S3) of a block MetaSchedule's CPU tiling gave structure
    ``SSRSRS`` with at least one spatial and one reduction iterator, as lists of loop RVs; None
    for any other block. Its tiles are ordered level by level (``MultiLevelTiling``'s reorder), each
    spatial level one loop per spatial iterator, each reduction level one per reduction iterator."""
    node = sch.get(block)
    if str(node.annotations.get(TILING_KEY, "")) != "SSRSRS":
        return None
    kinds = [int(iv.iter_type) for iv in node.iter_vars]
    s, r = kinds.count(0), kinds.count(2)  # IterVar.DataPar, IterVar.CommReduce
    if s == 0 or r == 0 or len(kinds) != s + r:
        return None
    loops = sch.get_loops(block)
    if len(loops) < 4 * s + 2 * r:
        return None
    tail = loops[len(loops) - (2 * s + r) :]
    return [tail[:s], tail[s : s + r], tail[s + r :]]


def _tiled_tails(sch: Any, root: Any) -> list:
    """The innermost levels (``_tiled_tail``) of each of the root's child blocks whose inner loop
    order is a decision."""
    tails = (_tiled_tail(sch, b) for b in sch.get_child_blocks(root))
    return [t for t in tails if t is not None]


def _nested(sch: Any, loops: list) -> bool:
    """Whether each loop but the last holds exactly the next one (what a reorder needs)."""
    return all(sch.get(outer).body.same_as(sch.get(inner)) for outer, inner in zip(loops, loops[1:]))


def reorder_inner(sch: Any, tail: list, order: int) -> None:
    """Put a tiled block's innermost levels (``_tiled_tail``) in ``INNER_ORDERS[order]``; leave
    MetaSchedule's order where they do not nest perfectly (a producer computed at one of them)."""
    s2, r1, s3 = tail
    if order and _nested(sch, s2 + r1 + s3):
        sch.reorder(*_REORDERS[INNER_ORDERS[order]](s2, r1, s3))


@tvm.ir.utils.derived_object
class RewriteInnerOrder(ms.postproc.PyPostproc):
    """Reorders the tiled blocks' inner loops as the root block's ``msgym.inner_order`` mark says
    (``SampledParallelVectorizeUnroll`` samples it), then removes the mark. First among the
    postprocessors: the vectorizing one then sees the final innermost loop."""

    def _initialize_with_tune_context(self, context: Any) -> None:
        pass

    def apply(self, sch: Any) -> bool:
        for name in (g.name_hint for g in sch.mod.get_global_vars()):
            root = sch.get_sblock("root", func_name=name)
            order = sch.get(root).annotations.get(INNER_ORDER_KEY)
            if order is None:
                continue
            if int(order):  # 0 is MetaSchedule's order: nothing to find (0.6 ms a call, in its search's threads)
                for tail in _tiled_tails(sch, root):
                    reorder_inner(sch, tail, int(order))
            sch.unannotate(root, INNER_ORDER_KEY)
        return True

    def clone(self) -> "RewriteInnerOrder":
        return RewriteInnerOrder()


# How often MetaSchedule's evolution mutates a root decision, against its own mutators' 0.9 (tiles),
# 0.05 (compute locations), 0.03 (unroll): about one mutation in eleven, for three decisions of
# which one (the inner loop order) was worth 1.5x on GEMM 1024's kernels (BENCHMARKS.md, issue 15).
ROOT_MUTATION_PROB = 0.1
ROOT_ANNOTATIONS = ("meta_schedule.parallel", "meta_schedule.vectorize", INNER_ORDER_KEY)


@tvm.ir.utils.derived_object
class MutateRootDecision(ms.mutator.PyMutator):
    """MetaSchedule's evolutionary search for the extended space: one of the root rule's own
    decisions (parallel granularity, vector width, inner loop order) changed to another of its
    options. MetaSchedule's mutators leave them as the first sampling drew them (``MutateUnroll``
    covers the unroll depth); its ``MutateParallel`` rewrites a parallel extent that is a constant
    in the default space and here is a sampled variable, so the extended space drops it for this.
    Deterministic: the choice is drawn from the search thread's random state."""

    def _initialize_with_tune_context(self, context: Any) -> None:
        pass

    def apply(self, trace: Any, rand_state: int) -> Any:
        chosen = [
            producer
            for inst in trace.insts
            if inst.kind.name == "Annotate" and str(inst.attrs[0]) in ROOT_ANNOTATIONS
            for producer in trace.insts
            if producer.kind.name == "SampleCategorical" and producer.outputs[0].same_as(inst.inputs[1])
        ]
        if not chosen:
            return None
        rng = random.Random(int(rand_state))
        inst = chosen[rng.randrange(len(chosen))]
        n, now = len(inst.attrs[0]), int(trace.decisions[inst])
        if n < 2:
            return None
        new = rng.randrange(n - 1)
        return trace.with_decision(inst, new + (new >= now), remove_postproc=True)

    def clone(self) -> "MutateRootDecision":
        return MutateRootDecision()


@tvm.ir.utils.derived_object
class SampledParallelVectorizeUnroll(ms.schedule_rule.PyScheduleRule):
    """``ParallelizeVectorizeUnroll`` with its parallel extent and vector limit sampled too, and, where
    the program has a block MetaSchedule tiled (``_tiled_tail``), the inner loop order; the root
    is visited last, so those blocks are tiled by then."""

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
        if _tiled_tails(sch, block):
            order = sch.sample_categorical(list(range(len(INNER_ORDERS))), uniform(len(INNER_ORDERS)))
            sch.annotate(block, INNER_ORDER_KEY, order)
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
    the last (parallel, vector, unroll, inner loop order) and ``RewriteInnerOrder`` first among the
    postprocessors, on a GPU the multi-level tiling (dynamic shared memory)."""
    if kind not in SPACE_KINDS:
        raise ValueError(f"unknown design space {kind!r}; choose one of {', '.join(SPACE_KINDS)}")
    if kind == "default":
        return "post-order-apply"
    default = ms.TuneContext(mod=mod, target=target, space_generator="post-order-apply", task_name="rules")
    generator = default.space_generator
    postprocs = list(generator.postprocs)
    mutators = dict(generator.mutator_probs)
    if is_gpu(target):
        rules = [
            _dynamic_shared_tiling() if type(rule) is ms.schedule_rule.MultiLevelTiling else rule
            for rule in generator.sch_rules
        ]
    else:
        postprocs = [RewriteInnerOrder(), *postprocs]
        cores = host_cores(target)
        rules = [
            SampledParallelVectorizeUnroll(cores)
            if isinstance(rule, ms.schedule_rule.ParallelizeVectorizeUnroll)
            else rule
            for rule in generator.sch_rules
        ]
        mutators = {m: p for m, p in generator.mutator_probs.items() if type(m) is not ms.mutator.MutateParallel}
        mutators[MutateRootDecision()] = ROOT_MUTATION_PROB
    return ms.space_generator.PostOrderApply(sch_rules=rules, postprocs=postprocs, mutator_probs=mutators)


def space_contexts(task: Task, seed: int, num_threads: "int | str", search: "Any | None" = None) -> list:
    """One MetaSchedule ``TuneContext`` per program of the task's space (``space_modules``), each with
    the space's target and rules: what msgym's design spaces are read from and what MetaSchedule's
    own search runs on. ``search``: a factory of search strategies, one for each context."""
    return [program_context(task, mod, seed, num_threads, search) for mod in space_modules(task)]


def program_context(
    task: Task, mod: tvm.IRModule, seed: int, num_threads: "int | str", search: "Any | None" = None
) -> Any:
    """The ``TuneContext`` of one program of the task's space (one of ``space_modules``)."""
    target = space_target(task.space_kind, task.target)
    return ms.TuneContext(
        mod=mod,
        target=target,
        space_generator=space_generator(task.space_kind, target, mod),
        search_strategy=None if search is None else search(),
        task_name=task.name,
        rand_state=seed,
        num_threads=num_threads,
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


def root_decisions(extended: Any, space: int) -> dict[str, int]:
    """Where the root rule's decisions sit in a space of ``extended`` (a task's extended
    ``DesignSpaces``): {"parallel", "vector", "unroll"[, "order"]: index}. They follow one another,
    but not always at the end (conv2d's padding gets its compute location after them)."""
    insts = extended.sampling[space]
    for i, inst in enumerate(insts):
        if inst.kind.name == "SampleCategorical" and [int(c) for c in inst.attrs[0]] == list(VECTOR_LANES):
            found = {"parallel": i - 1, "vector": i, "unroll": i + 1}
            after = insts[i + 2] if i + 2 < len(insts) else None
            if after is not None and after.kind.name == "SampleCategorical":
                if [int(c) for c in after.attrs[0]] == list(range(len(INNER_ORDERS))):
                    found["order"] = i + 2
            return found
    raise ValueError(f"design space {space} of task {extended.task.name} has no extended root decisions")


def from_default(extended: Any, space: int, decisions: list) -> tuple[int, list]:
    """The candidate of ``extended`` (the task's extended ``DesignSpaces``) that is a default-space
    candidate (same program, unpacked): MetaSchedule's fixed parallel and vector values inserted
    before its unroll decision, and its inner loop order after it where that is a decision."""
    at = root_decisions(extended, space)
    fixed = [JOBS_PER_CORE.index(16), VECTOR_LANES.index(64), decisions[at["parallel"]]]
    if "order" in at:
        fixed.append(INNER_ORDERS.index("S2 R1 S3"))
    return space, [*decisions[: at["parallel"]], *fixed, *decisions[at["parallel"] + 1 :]]
