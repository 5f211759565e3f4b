"""TVM's CPU thread pool runs a target's kernels on the target's cores (``_tvm.use_threads``).

TVM alone takes half the hardware threads on x86: one on a 2-vCPU VM whose target says 2 cores."""

import subprocess
import sys
import textwrap

import pytest

from msgym.measure import MeasureResult
from msgym.measure.store import Entry

# A kernel whose parallel loop writes, per iteration, the id of the thread that ran it.
THREADS_SEEN = textwrap.dedent("""
    import sys
    import numpy as np
    from msgym._tvm import tvm, use_threads
    from tvm.script import tirx as T

    @T.prim_func
    def ids(out: T.Buffer((256,), "int64")):
        for i in T.parallel(256):
            for _ in range(20000):  # long enough that no one thread takes every iteration
                out[i] = T.call_extern("int64", "pthread_self")

    n = int(sys.argv[1])
    if sys.argv[2] == "pool-first":
        tvm.get_global_func("runtime.NumThreads")()  # TVM makes its pool (its default size) first
    use_threads(n)
    lib = tvm.tirx.build(tvm.IRModule({"main": ids}), target="llvm")
    out = tvm.runtime.tensor(np.zeros(256, "int64"))
    lib["main"](out)
    print(len(set(out.numpy().tolist())))
""")


def threads_seen(tmp_path, n: int, order: str = "use-first") -> subprocess.CompletedProcess:
    script = tmp_path / "threads_seen.py"  # TVMScript reads its source: a file, not ``-c``
    script.write_text(THREADS_SEEN)
    return subprocess.run([sys.executable, str(script), str(n), order], capture_output=True, text=True)


@pytest.mark.hardware
@pytest.mark.parametrize("n", [1, 2])
def test_kernels_run_on_as_many_threads_as_asked(tmp_path, n):
    done = threads_seen(tmp_path, n)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == n


@pytest.mark.hardware
def test_a_pool_too_small_to_grow_is_an_error_not_a_slower_kernel(tmp_path):
    done = threads_seen(tmp_path, 64, "pool-first")
    assert done.returncode != 0
    assert "cannot run 64" in done.stderr and "TVM_NUM_THREADS" in done.stderr


def test_a_latency_from_another_thread_count_is_measured_again():
    """Records written before msgym set TVM's pool carry no thread count: a measurer that runs
    kernels on 2 threads measures them again; one whose kernels are not TVM's pool here takes them."""
    old = Entry("t", 0, [1], MeasureResult(latency_s=1e-3, repeats=[1e-3]))
    new = Entry("t", 0, [1], MeasureResult(latency_s=1e-3, repeats=[1e-3], threads=2))
    limits = (60.0, 30.0)
    assert not old.answers(limits, "min", threads=2) and old.answers(limits, "min", threads=None)
    assert new.answers(limits, "min", threads=2) and not new.answers(limits, "min", threads=1)
