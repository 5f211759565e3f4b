"""Tasks: the built-in suite, user kernels, and clear errors for bad input."""

import pytest
from conftest import DATA, ODD_MATMUL

from msgym.tasks import BUILTIN_TASKS, TaskError, get_task


def test_builtin_suite_covers_the_operator_kinds():
    assert len(BUILTIN_TASKS) >= 8
    keys = {w.key for w in BUILTIN_TASKS.values()}
    assert {"GMM", "C2D", "DEP", "CBR", "SFM", "NRM", "TBG"} <= keys
    assert {"gmm-512", "gmm-1024"} <= set(BUILTIN_TASKS)


def test_builtin_task_has_program_target_flops():
    task = get_task("gmm-512")
    assert task.flops == pytest.approx(2 * 512**3, rel=1e-6)
    assert "mcpu" in str(task.target)
    assert task.arg_specs() == [((1, 512, 512), "float32")] * 3


@pytest.mark.parametrize("name", ["matmul_odd", "MATMUL_FUNC", "MATMUL_MODULE", "add_relu_odd"])
def test_user_kernel_forms(name):
    task = get_task(f"{DATA / 'kernels.py'}:{name}")
    assert task.flops > 0
    assert task.name.endswith(name)


def test_random_inputs_are_seeded():
    task = get_task(ODD_MATMUL)
    a, b = task.random_inputs(3), task.random_inputs(3)
    assert all((x == y).all() for x, y in zip(a, b))
    assert [x.shape for x in a] == [(37, 29), (29, 53), (37, 53)]


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(TaskError, match="gmm-512.*file.py:NAME"):
        get_task("gemm-9000")


def test_missing_file():
    with pytest.raises(TaskError, match="no such file"):
        get_task("nowhere/kernel.py:main")


def test_file_that_fails_to_import_names_the_file():
    with pytest.raises(TaskError, match=r"bad_import\.py.*ModuleNotFoundError"):
        get_task(f"{DATA / 'bad_import.py'}:main")


def test_name_that_is_not_a_kernel_names_what_was_found():
    with pytest.raises(TaskError, match=r"kernels\.py:NOT_A_KERNEL.*found builtins\.int"):
        get_task(f"{DATA / 'kernels.py'}:NOT_A_KERNEL")


def test_missing_name_lists_what_the_file_defines():
    with pytest.raises(TaskError, match="defines no 'nope'.*matmul_odd"):
        get_task(f"{DATA / 'kernels.py'}:nope")


def test_failing_factory_is_reported():
    with pytest.raises(TaskError, match="calling broken\\(\\) failed.*broken"):
        get_task(f"{DATA / 'kernels.py'}:broken")


def test_task_lists_resolve_sets_files_and_mixtures(tmp_path):
    from msgym.tasks.sets import TASK_SETS, resolve

    assert resolve("test") == TASK_SETS["test"]
    assert resolve("gmm-512,test") == ["gmm-512", *TASK_SETS["test"]]  # a set inside a comma list
    listing = tmp_path / "tasks.txt"
    listing.write_text("# mine\nGMM/0\nc2d  # a comment\n")
    assert resolve(str(listing)) == ["GMM/0", "c2d"]
    with pytest.raises(TaskError, match="no tasks in"):
        resolve(" , ")


def test_an_integer_index_input_stays_inside_its_axis():
    """A model's take picks one of 3 rows with a scalar index: random integers must be valid
    indices, or the unscheduled program reads memory it does not own and disagrees with itself."""
    import numpy as np
    from tvm import te

    from msgym._tvm import tvm
    from msgym.measure.worker import Reference
    from msgym.tasks.task import Task, as_module

    rows, idx = te.placeholder((3, 8), name="A"), te.placeholder((), name="i", dtype="int64")
    out = te.compute((8,), lambda j: rows[idx[()], j], name="B")
    task = Task("take", as_module(te.create_prim_func([rows, idx, out]), "test"), get_task("gmm-64").target, "take")
    for seed in range(5):
        inputs = task.random_inputs(seed)
        assert int(inputs[1]) in (0, 1)
        expected = Reference(task.program_key, tvm.ir.save_json(task.mod), str(task.target), seed).expected
        np.testing.assert_array_equal(expected[2], inputs[0][int(inputs[1])])
