"""PyTorch eager equivalents (fast_p's reference) compute what their task computes."""

import pytest

from msgym._tvm import tvm
from msgym.measure.worker import Reference
from msgym.tasks import get_task
from msgym.tasks.torch_reference import torch_equivalent


def expected_outputs(task):
    return Reference(task.key, tvm.ir.save_json(task.mod), str(task.target), 0).expected


@pytest.mark.hardware  # builds and runs each unscheduled program for its outputs
@pytest.mark.parametrize("name", ["gmm-64", "sfm-64", "c2d-1x1", "dep", "nrm", "tbg", "GRP/1", "DIL/1", "CBR/1"])
def test_equivalents_compute_the_tasks_output(name):
    task = get_task(name)
    ref = torch_equivalent(task)
    assert ref is not None
    expected = expected_outputs(task)
    assert ref.check(expected) is None
    repeats = ref.time(threads=1, repeat=3)
    assert len(repeats) == 3 and all(r > 0 for r in repeats)


@pytest.mark.hardware
def test_a_wrong_equivalent_is_caught():
    task = get_task("gmm-64")
    expected = expected_outputs(task)
    expected[-1] = expected[-1] * 1.01
    assert "differs from the task" in torch_equivalent(task).check(expected)


def test_operators_without_an_equivalent_have_none():
    assert torch_equivalent(get_task("C1D/0")) is None
