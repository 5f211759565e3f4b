"""CUDA targets: what works without a GPU (targets, design spaces, builds), and, marked ``cuda``,
what needs one (measuring on it, the PyTorch reference on it). CI has no GPU: the ``cuda`` tests
skip there, and the build tests skip where neither NVRTC nor nvcc is installed."""

import numpy as np
import pytest
import tvm_ffi

from msgym._tvm import NoDeviceError, cuda_compiler, is_gpu, make_target, tvm
from msgym.space import InvalidCandidate, design_spaces
from msgym.tasks import get_task
from tests.conftest import has_gpu

H100 = {"kind": "cuda", "arch": "sm_90"}
no_gpu = pytest.mark.skipif(has_gpu(), reason="this machine has a GPU")


def _compiler() -> str | None:
    try:
        return cuda_compiler()
    except NoDeviceError:
        return None


needs_compiler = pytest.mark.skipif(_compiler() is None, reason="no CUDA compiler (NVRTC or nvcc) here")


def _valid(spaces, n: int, seed: int = 0) -> list:
    """``n`` valid programs of uniform walks (most walks on a GPU break its thread limits)."""
    rng, out = np.random.default_rng(seed), []
    for _ in range(2000):
        cand = spaces.sample(rng)
        if cand is None:
            continue
        try:
            out.append((cand, spaces.program(*cand)))
        except InvalidCandidate:
            continue
        if len(out) == n:
            return out
    raise AssertionError(f"fewer than {n} valid programs in 2000 walks")


def test_a_cuda_json_target_gets_the_limits_its_rules_need_and_this_cpu_as_host():
    target = make_target(H100)
    assert is_gpu(target) and target.arch == "sm_90"
    assert int(target.attrs["max_threads_per_block"]) == 1024 and int(target.attrs["thread_warp_size"]) == 32
    assert target.host.kind.name == "llvm" and "mcpu" in target.host.attrs
    tagged = make_target("nvidia/nvidia-h100")
    assert tagged.arch == "sm_90a" and tagged.host.kind.name == "llvm"


def test_a_cuda_target_without_an_architecture_or_of_another_kind_is_refused():
    with pytest.raises(ValueError, match="names no architecture"):
        make_target({"kind": "cuda"})
    with pytest.raises(ValueError, match="'llvm' and 'cuda'"):
        make_target("rocm")


@no_gpu
def test_target_cuda_without_a_gpu_says_so(capsys):
    with pytest.raises(NoDeviceError, match="no CUDA GPU"):
        make_target("cuda")
    from msgym.cli import main

    assert main(["tune", "--task", "gmm-64", "--target", "cuda", "--logdir", ""]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no CUDA GPU" in err


@no_gpu
def test_measuring_a_gpu_task_without_a_gpu_is_refused_before_anything_is_built():
    from msgym.measure import Measurer

    task = get_task("gmm-64", H100)
    with Measurer(store=None) as m:
        with pytest.raises(NoDeviceError, match="no CUDA GPU to run it on"):
            m.measure(task, task.mod)
        assert all(b.proc is None for b in m.builders)


def test_cuda_design_spaces_keep_their_guarantees():
    """MetaSchedule's CUDA rules (thread binding, shared memory): every walk takes valid options, and
    the programs that pass the GPU-code check replay to the same decisions."""
    spaces = design_spaces(get_task("gmm-64", H100))
    assert len(spaces) >= 1 and min(spaces.sizes) > 1
    for (space, decisions), program in _valid(spaces, 3):
        again = spaces.program(space, decisions)
        assert tvm_ffi.structural_equal(again.mod, program.mod)
        assert "threadIdx" in again.mod.script()


@pytest.mark.parametrize("agent", ["random", "evolutionary"])
def test_agents_propose_only_programs_the_postprocessors_accept(agent):
    """On a GPU most walks break a thread or shared-memory limit (MetaSchedule's VerifyGPUCode): an
    agent screens them out instead of spending a trial on a program that is never built (the first
    GPU bench lost 33 of evolutionary's 64 trials on gmm-2048 that way)."""
    from msgym.search import SearchContext, create

    spaces = design_spaces(get_task("gmm-64", H100))
    strategy = create(agent)
    strategy.setup(SearchContext(spaces, seed=0, trials=8, baseline_s=1e-3, run_dir=None))
    proposals = strategy.propose(8)
    assert len(proposals) == 8
    assert all(spaces.valid(c.space, c.decision_list()) for c in proposals)


def test_float16_gemm_gets_tensor_core_spaces():
    """float16 inputs with float32 accumulation: MetaSchedule's tensor-core rule applies (wmma)."""
    from msgym.tasks.builtin import Workload
    from msgym.tasks.task import Task

    mod = Workload("MM", (256, 256, 256, "float16", "float32"), "").build()
    spaces = design_spaces(Task("mm16", mod, make_target(H100), spec="mm16"))
    tensorized = [i for i, t in enumerate(spaces.traces) if "wmma_sync_16x16x16_f16f16f32" in str(t)]
    assert tensorized, "no tensor-core design space for a float16 GEMM"
    rng = np.random.default_rng(0)
    for _ in range(500):
        cand = spaces.sample(rng, space=tensorized[0])
        try:
            program = spaces.program(*cand) if cand else None
        except InvalidCandidate:
            continue
        if program is not None:
            break
    assert "tvm_mma_sync" in program.mod.script()  # the postprocessors tensorized it


@needs_compiler
def test_sampled_cuda_programs_and_the_baseline_build_here():
    """NVRTC (or nvcc) compiles for sm_90 without a GPU: the builds the GPU machine will run."""
    import os
    import tempfile

    from msgym.measure.measurer import baseline_program
    from msgym.measure.worker import build

    task = get_task("gmm-64", H100)
    programs = [p.mod for _, p in _valid(design_spaces(task), 2)] + [baseline_program(task)]
    with tempfile.TemporaryDirectory() as tmp:
        for i, mod in enumerate(programs):
            path = os.path.join(tmp, f"k{i}.so")
            assert build(tvm.ir.save_json(mod), str(task.target), path) > 0
            assert os.path.getsize(path) > 0


@pytest.mark.cuda
def test_a_gpu_search_measures_checked_kernels_with_intervals(tmp_path):
    from msgym.measure import Measurer
    from msgym.search import tune

    task = get_task("gmm-64", "cuda")
    with Measurer(store=str(tmp_path / "records.jsonl")) as m:
        result = tune(task, "random", trials=8, seed=0, measurer=m, progress=False, verify_rounds=2)
        assert result.best is not None and result.best.latency_s > 0
        ok = [e.result for e in m.entries(task) if e.result.ok]
        assert ok and all(r.ci95[0] <= r.latency_s <= r.ci95[1] for r in ok)
        assert result.verified_latency_s is not None
        assert m.baseline(task).latency_s > 0


@pytest.mark.cuda
def test_the_pytorch_reference_runs_on_the_gpu_and_matches_the_task():
    from msgym.measure.worker import Reference
    from msgym.tasks.torch_reference import torch_equivalent

    task = get_task("gmm-64", "cuda")
    ref = torch_equivalent(task)
    assert ref.device == "cuda"
    expected = Reference(task.key, tvm.ir.save_json(task.mod), str(task.target), 0).expected
    assert ref.check(expected) is None
    assert all(t > 0 for t in ref.time(1, repeat=3))


@needs_compiler
def test_float16_tensor_core_candidates_with_float32_accumulation_build():
    """TVM 0.27 fails most of them (a float16 shared buffer reused for the float32 tile) unless the
    static shared memory is merged (``build_config``): 34 of 40 failed before, on gmm-2048-fp16."""
    import os
    import tempfile

    from msgym.measure.worker import build

    task = get_task("gmm-2048-fp16", H100)
    spaces = design_spaces(task)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (_, program) in enumerate(_valid(spaces, 5, seed=7)):
            path = os.path.join(tmp, f"k{i}.so")
            build(tvm.ir.save_json(program.mod), str(task.target), path)
            assert os.path.getsize(path) > 0
