"""User kernels for tests: odd and prime extents, and things that are not kernels."""

import tvm
from tvm import te


def matmul_odd():
    """C[37, 53] = A[37, 29] @ B[29, 53]: prime extents everywhere."""
    a = te.placeholder((37, 29), name="A")
    b = te.placeholder((29, 53), name="B")
    k = te.reduce_axis((0, 29), name="k")
    c = te.compute((37, 53), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="C")
    return te.create_prim_func([a, b, c])


def add_relu_odd():
    """An elementwise kernel on a 3 x 45 x 7 tensor."""
    a = te.placeholder((3, 45, 7), name="A")
    b = te.compute((3, 45, 7), lambda i, j, k: te.max(a[i, j, k] + 1.0, 0.0), name="B")
    return te.create_prim_func([a, b])


MATMUL_FUNC = matmul_odd()
MATMUL_MODULE = tvm.IRModule({"main": matmul_odd()})
NOT_A_KERNEL = 42


def broken():
    raise RuntimeError("this kernel factory is broken")


def dynamic_rows():
    """B[n, 64] = 2 * A[n, 64] with a symbolic n: not a tunable (static) task."""
    n = tvm.tirx.Var("n", "int32")
    a = te.placeholder((n, 64), name="A")
    b = te.compute((n, 64), lambda i, j: a[i, j] * 2.0, name="B")
    return te.create_prim_func([a, b])
