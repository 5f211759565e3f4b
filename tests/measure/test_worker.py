"""The worker's argument buffers and how a kernel's repeats are shared out among them."""

import types

import numpy as np
import pytest
import tvm

from msgym.measure.result import TimingConfig
from msgym.measure.worker import Reference, _evaluator
from msgym.tasks import get_task


class RecordingLib:
    """A library whose ``time_evaluator`` records which argument set each call timed, and how often."""

    def __init__(self):
        self.calls = []

    def time_evaluator(self, name, dev, number, repeat, min_repeat_ms, f_preproc):
        def run(*args):
            self.calls.append((args[0], repeat))
            return types.SimpleNamespace(results=[1e-3] * repeat)

        return run


def test_repeats_go_round_the_sets_across_chunks():
    lib = RecordingLib()
    timed = _evaluator(lib, None, TimingConfig(), False, [["s0"], ["s1"], ["s2"]])
    assert len(timed(5, 0)) == 5  # repeats 0-4: sets 0, 1, 2, 0, 1
    assert lib.calls == [("s0", 2), ("s1", 2), ("s2", 1)]
    lib.calls.clear()
    assert len(timed(5, 5)) == 5  # repeats 5-9: sets 2, 0, 1, 2, 0
    assert lib.calls == [("s0", 2), ("s1", 1), ("s2", 2)]


@pytest.mark.hardware  # builds the task's reference program
def test_argument_sets_are_the_same_buffers_and_the_first_is_reset():
    task = get_task("gmm-64")
    ref = Reference(task.program_key, tvm.ir.save_json(task.mod), str(task.target), seed=0)
    dev = tvm.cpu()
    sets = ref.argument_sets(dev, 3)
    assert len(sets) == 3 and all(len(s) == len(ref.inputs) for s in sets)
    sets[0][2].copyfrom(np.full(ref.inputs[2].shape, 7.0, dtype=ref.inputs[2].dtype))  # a kernel's output
    again = ref.argument_sets(dev, 3)
    assert all(a is b for a, b in zip(again[0], sets[0]))  # the same buffers
    np.testing.assert_array_equal(again[0][2].numpy(), ref.inputs[2])  # reset from the inputs
    for tensor, array in zip(again[1], ref.inputs):  # the others hold the inputs too
        np.testing.assert_array_equal(tensor.numpy(), array)
    assert len(ref.argument_sets(dev, 2)) == 2  # another count: new sets
    with pytest.raises(ValueError, match="placements must be a positive integer"):
        TimingConfig(placements=0)
