"""PyTorch eager equivalents of the built-in operators: one of fast_p's two references.

``torch_equivalent(task)`` gives, for a task of MetaSchedule's ``te_workload`` suite (a built-in name
or ``KEY/INDEX``), a function of the task's arguments (numpy arrays, as ``Task.random_inputs`` makes
them) that prepares PyTorch tensors once and returns a callable computing the output in eager mode,
in the layout PyTorch runs fastest on CPU for it (NHWC inputs as ``channels_last``; weights reordered
once, outside the timing, as a PyTorch user would store them). None where no equivalent is written
(conv1d/3d, transposed and capsule conv, imported model tasks: those are compared end to end by
``msgym tune-model``). Each equivalent is checked against the task's own reference output before
it is timed (``check``), so a wrong equivalent can never pass for a fast reference.

For a GPU task the equivalent runs on the GPU (cuBLAS / cuDNN through PyTorch, TF32 off so that
float32 is float32), timed with CUDA events. PyTorch gives float16 products a float16 output
(float32 accumulation inside cuBLAS/cuDNN) where the task writes float32: the check compares at
float16's tolerance then, and the reference writes half the output bytes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from msgym.tasks.builtin import workload_of

__all__ = ["TorchReference", "torch_equivalent", "EQUIVALENT_OPERATORS"]


def _conv_weight(w: Any) -> Any:
    """(kh, kw, CI/groups, CO) -> PyTorch's (CO, CI/groups, kh, kw)."""
    return w.permute(3, 2, 0, 1).contiguous()


def _nhwc(x: Any) -> Any:
    """An NHWC array as PyTorch's NCHW view in channels_last memory (no copy)."""
    return x.permute(0, 3, 1, 2)


def _gmm(args: tuple, t: list) -> Callable[[], Any]:
    import torch

    x, y = t[0], t[1]
    return lambda: torch.bmm(x, y)


def _c2d(args: tuple, t: list) -> Callable[[], Any]:
    import torch.nn.functional as F

    # (N, H, W, CI, CO, kernel, stride, padding[, dilation[, groups]])
    stride, padding, dilation, groups = (*args[6:], 1, 1)[:4]
    x, w = _nhwc(t[0]), _conv_weight(t[1])
    return lambda: F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups).permute(0, 2, 3, 1)


def _dep(args: tuple, t: list) -> Callable[[], Any]:
    import torch.nn.functional as F

    _, _, _, c, _, stride, padding = args[:7]
    x = _nhwc(t[0])
    w = t[1][0].permute(2, 0, 1).unsqueeze(1).contiguous()  # (1, kh, kw, C) -> (C, 1, kh, kw)
    return lambda: F.conv2d(x, w, stride=stride, padding=padding, groups=c).permute(0, 2, 3, 1)


def _sfm(args: tuple, t: list) -> Callable[[], Any]:
    import torch

    return lambda: torch.softmax(t[0], dim=1)


def _nrm(args: tuple, t: list) -> Callable[[], Any]:
    import torch

    return lambda: torch.linalg.vector_norm(t[0], dim=(1, 2))


def _cbr(args: tuple, t: list) -> Callable[[], Any]:
    import torch
    import torch.nn.functional as F

    _, _, _, _, _, _, stride, padding = args[:8]
    x, w = _nhwc(t[0]), _conv_weight(t[1])
    bias, offset, scale = (v.view(1, -1, 1, 1) for v in (t[2], t[3], t[4]))  # te_workload's argument order
    return lambda: torch.relu((F.conv2d(x, w, stride=stride, padding=padding) + bias) * scale + offset).permute(
        0, 2, 3, 1
    )


def _mm(args: tuple, t: list) -> Callable[[], Any]:
    import torch

    return lambda: torch.mm(t[0], t[1])


def _c2d_nchw(args: tuple, t: list) -> Callable[[], Any]:
    import torch.nn.functional as F

    # (N, H, W, CI, CO, kh, kw, stride, padding[, dilation, ...])
    stride, padding, dilation = args[7], args[8], (args[9] if len(args) > 9 else 1)
    return lambda: F.conv2d(t[0], t[1], stride=stride, padding=padding, dilation=dilation)


def _tbg(args: tuple, t: list) -> Callable[[], Any]:
    import torch

    q = t[0].permute(0, 2, 1, 3)  # (b, seq, h, d) -> (b, h, seq, d)
    v = t[1].permute(0, 2, 3, 1)  # -> (b, h, d, seq)
    return lambda: torch.matmul(q, v)


# te_workload key -> (workload args, torch tensors of the task's arguments) -> the eager computation
EQUIVALENTS: dict[str, Callable[[tuple, list], Callable[[], Any]]] = {
    "GMM": _gmm,
    "C2D": _c2d,
    "GRP": _c2d,
    "DIL": _c2d,
    "DEP": _dep,
    "SFM": _sfm,
    "NRM": _nrm,
    "CBR": _cbr,
    "TBG": _tbg,
    "MM": _mm,
    "C2D_NCHW": _c2d_nchw,
}
EQUIVALENT_OPERATORS = tuple(EQUIVALENTS)


@dataclasses.dataclass
class TorchReference:
    """A task's PyTorch eager equivalent, ready to check and time."""

    task: Any
    compute: Callable[[], Any]
    device: str = "cpu"

    def check(self, expected: list[np.ndarray]) -> str | None:
        """None if the equivalent computes the task's output (its last argument); else what differs."""
        import torch

        with torch.no_grad():
            out = self.compute()
        got = out.contiguous().cpu().numpy()
        want = expected[-1]
        rtol, atol = self.task.tolerance(str(got.dtype if got.dtype.itemsize < want.dtype.itemsize else want.dtype))
        got = got.astype(want.dtype)
        if got.shape != want.shape or not np.allclose(got, want, rtol=rtol, atol=atol):
            err = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("nan")
            return (
                f"the PyTorch equivalent of {self.task.name} differs from the task "
                f"(shape {got.shape}, max error {err:.3g})"
            )
        return None

    def time(self, threads: int, repeat: int = 15, warmup: int = 3) -> list[float]:
        """Seconds per call, ``repeat`` times, on ``threads`` threads (the kernels' own count); on a
        GPU, by CUDA events around each call."""
        import torch

        if self.device == "cuda":
            return self._time_cuda(repeat, warmup)
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with torch.no_grad():
                for _ in range(warmup):
                    self.compute()
                out = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    self.compute()
                    out.append(time.perf_counter() - t0)
            return out
        finally:
            torch.set_num_threads(before)

    def _time_cuda(self, repeat: int, warmup: int) -> list[float]:
        import torch

        with torch.no_grad():
            for _ in range(warmup):
                self.compute()
            out = []
            for _ in range(repeat):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                self.compute()
                end.record()
                end.synchronize()
                out.append(start.elapsed_time(end) / 1e3)
        return out


def torch_equivalent(task: Any, seed: int = 0) -> TorchReference | None:
    """The task's PyTorch eager equivalent on its seeded inputs, or None where there is none."""
    workload = workload_of(task.spec)
    if workload is None or workload.key not in EQUIVALENTS:
        return None
    import torch

    from msgym._tvm import is_gpu

    device = "cuda" if is_gpu(task.target) else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 as float32 (PyTorch's own switches)
        torch.backends.cudnn.allow_tf32 = False
    tensors = [torch.from_numpy(a).to(device) for a in task.random_inputs(seed)]
    return TorchReference(task, EQUIVALENTS[workload.key](workload.args, tensors), device)
