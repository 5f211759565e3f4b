"""The measurer: real builds and timings, output checks, and injected faults."""

import pytest
import tvm
from tvm import te

from msgym.measure import Measurer, TimingConfig
from msgym.space import design_spaces
from msgym.tasks import get_task


def wrong_matmul() -> tvm.IRModule:
    """Same signature as gmm-64, but adds instead of multiplying: a kernel with wrong output."""
    a = te.placeholder((1, 64, 64), name="A")
    b = te.placeholder((1, 64, 64), name="B")
    c = te.compute((1, 64, 64), lambda n, i, j: a[n, i, j] + b[n, i, j], name="C")
    return tvm.IRModule({"main": te.create_prim_func([a, b, c]).with_attr("global_symbol", "main")})


def test_measures_a_scheduled_kernel(measurer):
    task = get_task("gmm-64")
    spaces = design_spaces(task)
    result = measurer.measure(task, spaces.program(0, spaces.default_decisions(0)).mod)
    assert result.ok, result.error
    assert result.latency_s > 0 and len(result.repeats) == measurer.timing.repeat
    assert result.cv < 1.0
    assert measurer.baseline(task).ok


def test_wrong_kernel_is_an_error_not_a_latency(measurer):
    task = get_task("gmm-64")
    result = measurer.measure(task, wrong_matmul())
    assert not result.ok and result.latency_s is None
    assert "wrong output: argument 2" in result.error


def test_build_that_raises_is_an_error(measurer):
    task = get_task("gmm-64")
    bad = tvm.IRModule({"main": wrong_matmul()["main"].with_attr("target", 42)})
    result = measurer.measure(task, bad, use_cache=False)
    assert not result.ok and result.error


def test_run_past_its_timeout_is_an_error_and_the_worker_is_replaced():
    task = get_task("gmm-512")
    spaces = design_spaces(task)
    slow = Measurer(TimingConfig(run_timeout_s=0.01, repeat=50))
    try:
        program = spaces.program(0, spaces.default_decisions(0)).mod
        result = slow.measure(task, program)
        assert not result.ok and "timed out" in result.error
        assert slow.worker_restarts == 1
        slow.timing = TimingConfig()
        assert slow.measure(task, program) is result  # cached: not measured again unless asked
        again = slow.measure(task, program, use_cache=False)  # the replaced worker measures it
        assert again.ok, again.error
    finally:
        slow.close()
