"""The extended design space: the parallel granularity, vector width and inner loop order
MetaSchedule fixes become decisions; every option gives a program; programs build, pass the output
check, replay and export; the default space is unchanged."""

import itertools
import random

import pytest
import tvm_ffi

from msgym._tvm import ms
from msgym.extended_space import INNER_ORDERS, JOBS_PER_CORE, UNROLL_STEPS, VECTOR_LANES, root_decisions
from msgym.space import _plain, design_spaces
from msgym.tasks import TaskError, get_task
from tests.measure.test_gpu import H100, needs_compiler


def _kinds(spaces, i):
    return [inst.kind.name for inst in spaces.sampling[i]]


def test_the_extended_space_adds_three_decisions_and_leaves_the_default_space_alone():
    task = get_task("gmm-64")
    default, extended = design_spaces(task), design_spaces(get_task("gmm-64", space="extended"))
    ms_own = ms.TuneContext(mod=task.mod, target=task.target, space_generator="post-order-apply", task_name="t")
    ms_kinds = [[i.kind.name for i in s.trace.insts if i in s.trace.decisions] for s in ms_own.generate_design_space()]
    assert [_kinds(default, i) for i in range(len(default))] == ms_kinds  # MetaSchedule's own space
    assert len(extended) == 2 * len(default)  # unpacked, then packed weights
    for i in range(len(extended)):
        assert _kinds(extended, i) == _kinds(default, i % len(default)) + ["SampleCategorical"] * 3
    # x 4 parallel granularities x 4 vector widths x 3 inner loop orders
    assert sum(extended.sizes) == 2 * 16 * 3 * sum(default.sizes)
    assert get_task("gmm-64", space="extended").key != task.key  # measured apart
    assert get_task("gmm-64", space="extended").program_key == task.program_key  # one reference, one baseline


def test_the_inner_loop_order_is_a_decision_only_where_a_block_is_tiled():
    """GEMM and conv2d have a block MetaSchedule's multi-level tiling tiles; softmax does not, so
    it gets no order decision (it would change nothing)."""
    for name, ordered in (("gmm-64", True), ("c2d", True), ("sfm-64", False)):
        spaces = design_spaces(get_task(name, space="extended"))
        assert all(("order" in root_decisions(spaces, i)) == ordered for i in range(len(spaces))), name


def _options(spaces, space, walk, position, n):
    """The final programs of a walk with decision ``position`` set to each of its ``n`` options."""
    programs = []
    for option in range(n):
        decisions = list(walk)
        decisions[position] = option
        programs.append(spaces.program_mod(space, decisions))
    return programs


@pytest.mark.parametrize("name", ["gmm-64", "c2d"])
def test_every_option_of_the_new_decisions_gives_a_program(name):
    """Brute force over the four root decisions (parallel, vector, unroll, inner order) after two
    walks' tiling: every combination passes every postprocessor; and each new decision changes the
    program for some tiling (with a small outer loop nest, every parallel limit fuses the same loops)."""
    spaces = design_spaces(get_task(name, space="extended"))
    rng = random.Random(0)
    names = ("parallel", "vector", "unroll", "order")
    sizes = dict(zip(names, (len(JOBS_PER_CORE), len(VECTOR_LANES), len(UNROLL_STEPS), len(INNER_ORDERS))))
    for _ in range(2):
        space, walk = spaces.sample(rng)
        at = root_decisions(spaces, space)
        for combo in itertools.product(*(range(sizes[n]) for n in names)):
            decisions = list(walk)
            for n, option in zip(names, combo):
                decisions[at[n]] = option
            assert spaces.valid(space, decisions), (space, combo)
    changed = {"parallel": False, "vector": False, "order": False}
    for _ in range(30):
        space, walk = spaces.sample(rng)
        at = root_decisions(spaces, space)
        for n in changed:
            programs = _options(spaces, space, walk, at[n], sizes[n])
            changed[n] |= len({tvm_ffi.structural_hash(p) for p in programs}) > 1
        if all(changed.values()):
            break
    assert changed == {"parallel": True, "vector": True, "order": True}


def test_each_inner_order_puts_the_loops_where_it_says():
    """GEMM (b, i, j; k): MetaSchedule's ``b2 i2 j2 k1 b3 i3 j3``; the innermost spatial loop alone
    inside the reduction; the reduction outside both inner spatial levels. The mark is removed."""
    spaces = design_spaces(get_task("gmm-64", space="extended"))
    space, walk = spaces.sample(random.Random(1), space=0)
    at = root_decisions(spaces, space)
    want = {
        "S2 R1 S3": ["b_2", "i_2", "j_2", "k_1", "b_3", "i_3", "j_3"],
        "S2 S3' R1 s3": ["b_2", "i_2", "j_2", "b_3", "i_3", "k_1", "j_3"],
        "R1 S2 S3": ["k_1", "b_2", "i_2", "j_2", "b_3", "i_3", "j_3"],
    }
    for option, order in enumerate(INNER_ORDERS):
        decisions = list(walk)
        decisions[at["order"]] = option
        sch = spaces.program(space, decisions)
        loops = [sch.get(loop).loop_var.name for loop in sch.get_loops(sch.get_sblock("Z_update"))]
        assert loops[-7:] == want[order], (order, loops)
        assert "msgym.inner_order" not in sch.mod.script()


def test_an_unknown_space_is_refused_naming_the_valid_ones():
    with pytest.raises(TaskError, match="default, extended"):
        get_task("gmm-64", space="wide")


def test_metaschedule_stays_on_the_default_space(fake_measurer):
    from msgym.search import Search

    search = Search(
        get_task("gmm-64", space="extended"), "metaschedule", trials=2, measurer=fake_measurer, progress=False
    )
    try:
        assert search.task.space_kind == "default"
    finally:
        search.finish(0)


def test_metaschedules_evolution_mutates_the_root_decisions_to_other_valid_options():
    """``MutateRootDecision``: one of the parallel / vector / inner-order decisions changed to
    another of its options, the same for the same random state; ``MutateParallel`` (a constant
    parallel extent in the default space, a sampled one here) is not among the mutators."""
    from tvm.s_tir.meta_schedule import _ffi_api

    from msgym.extended_space import MutateRootDecision, space_generator

    apply_mutator = _ffi_api.MutatorApply  # with a given random state (Mutator.apply draws one)

    task = get_task("gmm-64", space="extended")
    spaces = design_spaces(task)
    generator = space_generator("extended", task.target, task.mod)
    kinds = {type(m).__name__ for m in generator.mutator_probs}
    assert kinds == {"MutateTileSize", "MutateComputeLocation", "MutateUnroll", "_PyMutator"}  # ours: Python-side
    walk = spaces.sample(random.Random(0))
    space, decisions = walk
    at = root_decisions(spaces, space)
    trace = spaces.trace_with(space, decisions)
    mutator = MutateRootDecision()
    changed = set()
    for state in range(40):
        mutated = apply_mutator(mutator, trace, state)
        new = [_plain(mutated.decisions[i]) for i in mutated.insts if i in mutated.decisions]
        diff = [k for k, (a, b) in enumerate(zip(decisions, new)) if a != b]
        assert len(diff) == 1 and diff[0] in (at["parallel"], at["vector"], at["order"]), diff
        spaces.program_mod(space, new)  # a valid candidate
        changed.add(diff[0])
        again = apply_mutator(mutator, trace, state)
        assert [str(d) for d in again.decisions.values()] == [str(d) for d in mutated.decisions.values()]
    assert changed == {at["parallel"], at["vector"], at["order"]}


def test_the_learned_agent_searches_the_extended_space_packed_and_not(fake_measurer):
    """MetaSchedule's evolution over the extended rules, one search per design space of each program
    (weights packed or not): every candidate is a point of msgym's extended space, and both programs
    get measured."""
    from msgym.search import create, tune

    agent = create("learned", num_trials_per_iter=6, population_size=32)
    result = tune(
        get_task("gmm-64", space="extended"), agent, trials=18, seed=0, progress=False, measurer=fake_measurer
    )
    assert (result.trials, result.errors, agent.unlocated) == (18, 0, 0)
    # one search per design space of each program: the packed program's are searched too
    assert len(agent.contexts) == len(agent.spaces.traces)
    assert len({tvm_ffi.structural_hash(tc.mod) for tc in agent.contexts}) == 2
    records = agent.database.get_all_tuning_records()
    assert len(records) >= 12
    assert len({tvm_ffi.structural_hash(r.workload.mod) for r in records}) == 2  # both programs measured
    assert result.best.space_kind == "extended"


def test_the_learned_agents_searches_share_one_population_across_programs():
    """Packed and not, the extended space's two programs share the population out among all their
    design spaces: with each program's getting the whole of it, the search took twice as long."""
    from msgym.search import SearchContext, create

    spaces = design_spaces(get_task("gmm-64", space="extended"))
    agent = create("learned", population_size=1024, num_trials_per_iter=6)
    agent.setup(SearchContext(spaces, seed=0, trials=6, baseline_s=1e-3))
    try:
        sizes = [tc.search_strategy.population_size for tc in agent.contexts]
        assert len(sizes) == len(spaces.traces) > 2
        assert sizes == [1024 // len(sizes)] * len(sizes)
    finally:
        agent.close()


def test_a_walk_in_the_extended_space_builds_passes_the_check_replays_and_compiles(measurer, tmp_path):
    from msgym.envs.outcome import measure_candidates
    from msgym.search import tune
    from msgym.search.database import export_database

    task = get_task("gmm-64", space="extended")
    spaces = design_spaces(task)
    cands = spaces.sample_distinct(random.Random(0), 2)
    results = measure_candidates(measurer, spaces, cands)
    assert all(r.ok for r in results), [r.error for r in results]  # built, output checked, timed
    result = tune(task, "random", trials=2, seed=1, measurer=measurer, progress=False, logdir=str(tmp_path))
    best = result.best
    assert best.space_kind == "extended"
    assert tvm_ffi.structural_equal(best.replay().mod, spaces.program(best.space, best.decisions).mod)
    db = export_database(measurer, task, tmp_path / "db")
    compiled = ms.tir_integration.compile_tir(db, task.mod, task.target)
    assert compiled is not None


def _packed(spaces, seed=0):
    """A walk in one of the spaces whose weights are packed (the second program's)."""
    first_packed = spaces.space_mods.index(spaces.space_mods[-1])
    return spaces.sample(random.Random(seed), space=first_packed)


def test_packing_the_weights_is_a_design_space_choice():
    """GEMM: the extended space holds MetaSchedule's spaces twice, the second time with the weight
    marked layout-free, so RewriteLayout packs it; softmax has no weight, so nothing is added."""
    gmm = design_spaces(get_task("gmm-64", space="extended"))
    assert len(gmm) == 2 * len(design_spaces(get_task("gmm-64")))
    space, decisions = _packed(gmm)
    assert space >= len(gmm) // 2 and "layout_rewrite_preproc" in gmm.program_mod(space, decisions).script()
    assert len(design_spaces(get_task("sfm-64", space="extended"))) == len(design_spaces(get_task("sfm-64")))


def test_a_packed_kernel_is_checked_whole_and_timed_without_its_packing_copy(measurer, tmp_path):
    import os

    from msgym.measure.worker import TIMED_SUFFIX, build
    from msgym.search.database import write_database

    task = get_task("gmm-64", space="extended")
    spaces = design_spaces(task)
    space, decisions = _packed(spaces)
    mod = spaces.program_mod(space, decisions)
    path = str(tmp_path / "k.so")
    build(tvm_ffi_json(mod), str(task.target), path)
    assert os.path.exists(path + TIMED_SUFFIX)  # the kernel that takes the packed weight
    result = measurer.measure(task, mod, use_cache=False)
    assert result.ok, result.error  # the whole program's output matched the reference
    db = write_database(task, tmp_path / "db", [(space, decisions, result.latency_s)])
    compiled = ms.tir_integration.compile_tir(db, task.mod, task.target)
    assert "layout_rewrite_preproc" in compiled.mod.script()  # compile_tir replays the packing too


def tvm_ffi_json(mod):
    from msgym._tvm import tvm

    return tvm.ir.save_json(mod)


@pytest.mark.parametrize("name", ["gmm-64", "c2d"])
def test_the_default_space_is_inside_the_extended_one(name):
    """MetaSchedule's fixed values (16 jobs per core, 64 lanes, its inner loop order) are options: a
    default candidate with them is the same program in the extended space (conv2d: the padding's
    compute location, sampled after the root's decisions, stays last)."""
    from msgym.extended_space import from_default

    default = design_spaces(get_task(name))
    extended = design_spaces(get_task(name, space="extended"))
    rng = random.Random(3)
    for _ in range(3):
        space, decisions = default.sample(rng)
        same = from_default(extended, space, decisions)
        assert tvm_ffi.structural_equal(default.program_mod(space, decisions), extended.program_mod(*same))


def _beyond_static_shared_memory():
    """The extended and default CUDA spaces of gmm-2048, and a valid extended candidate the
    default space's postprocessors reject."""
    from msgym.search.strategy import new_walks

    default = design_spaces(get_task("gmm-2048", H100))
    extended = design_spaces(get_task("gmm-2048", H100, space="extended"))
    walks = new_walks(extended, lambda: (None, None), 24, set(), random.Random(0), threads=2)
    beyond = [c for c in walks if not default.valid(c.space, c.decision_list())]
    assert beyond, "no candidate past the static limit among 24"
    return default, extended, beyond[0]


def test_on_a_gpu_the_extended_space_stages_tiles_in_dynamic_shared_memory_past_48_kb():
    """MetaSchedule's CUDA space keeps a block's shared memory under the 48 KB static limit; the
    extended one stages in dynamic shared memory up to the architecture's opt-in limit, so tiles
    the default space rejects are candidates."""
    from msgym.extended_space import SHARED_OPTIN_BYTES

    default, extended, cand = _beyond_static_shared_memory()
    limit = extended.context.target.attrs["max_shared_memory_per_block"]
    assert limit == SHARED_OPTIN_BYTES["sm_90"] > default.context.target.attrs["max_shared_memory_per_block"]
    assert extended.task.target.attrs["max_shared_memory_per_block"] == 49152  # what the task is built for
    assert "shared.dyn" in extended.program_mod(cand.space, cand.decision_list()).script()


@needs_compiler
def test_a_gpu_candidate_past_48_kb_builds_with_dynamic_shared_memory():
    from msgym._tvm import build_config, tvm

    _, extended, cand = _beyond_static_shared_memory()
    mod = extended.program_mod(cand.space, cand.decision_list())
    with tvm.transform.PassContext(opt_level=3, config=build_config(extended.task.target)):
        lib = tvm.compile(mod, target=extended.task.target)
    assert "extern __shared__" in lib.mod.imports[0].inspect_source()
