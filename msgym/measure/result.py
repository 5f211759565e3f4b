"""What a measurement is configured with and what it returns."""

from __future__ import annotations

import dataclasses
import statistics


@dataclasses.dataclass(frozen=True)
class TimingConfig:
    number: int = 1  # runs averaged into one repeat
    repeat: int = 5  # repeats every kernel gets (the adaptive protocol may add more: protocol.py)
    min_repeat_ms: int = 2  # small kernels loop until a repeat lasts this long (less noise)
    warmup: int = 1  # untimed runs first (the correctness run counts as one)
    cache_flush: bool = False  # flush the CPU cache before each repeat (inputs cold)
    # A kernel whose first (checked) run takes longer than this is slow: far from the best, its
    # latency needs less precision, so it gets ``slow_repeat`` repeats timed from Python.
    slow_kernel_s: float = 0.02
    slow_repeat: int = 3
    build_timeout_s: float = 60.0
    run_timeout_s: float = 30.0
    seed: int = 0  # seed of the random inputs the output check uses
    # What the repeats give (msgym.measure.protocol.ESTIMATORS; chosen from data, see protocol.py).
    estimator: str = "min"
    # Adaptive repeats (protocol.more_repeats): a kernel within ``contender_ratio`` of its task's best
    # so far gets ``chunk`` more repeats at a time while its 95% interval is wider than
    # ``target_width`` of its latency, up to ``max_repeat`` repeats and ``max_timing_s`` of timing.
    adaptive: bool = True
    contender_ratio: float = 1.5  # 1.2 cut contenders timed in one of this VM's 30%-slower states
    chunk: int = 5
    target_width: float = 0.005
    max_repeat: int = 15
    max_timing_s: float = 0.3
    # Spacing (protocol.more_repeats): a contender's repeats come in at least ``min_chunks`` chunks
    # (the first ``repeat``, then ``chunk`` at a time), ``gap_ms`` apart, whatever its interval says,
    # so that a slow state of the machine shorter than the gaps cannot hold all of them. Off: on this
    # project's VMs it spread more, not less (protocol.py, with figures).
    min_chunks: int = 1
    gap_ms: float = 0.0
    # Where a kernel's arrays lie moves its time (GEMM 512 on the Zen 5: 8 sets of buffers, their mean
    # latencies CV 3.0%, the repeats within one set 1.0%): its repeats are shared out among
    # ``placements`` sets of argument buffers, the same sets for every kernel of the task a run worker
    # times (``reuse_buffers``; False: fresh sets at every call, as before). Figures: worker.py.
    placements: int = 4
    reuse_buffers: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.placements, int) or self.placements < 1:
            raise ValueError(f"placements must be a positive integer (argument buffer sets), got {self.placements!r}")


@dataclasses.dataclass
class MeasureResult:
    """A measurement: a latency (``estimator`` of its repeats) with the repeats, or an error saying
    what went wrong."""

    latency_s: float | None = None
    repeats: list[float] = dataclasses.field(default_factory=list)
    estimator: str = "min"  # what latency_s is of the repeats (records before issue 13: the median)
    error: str | None = None
    build_s: float = 0.0
    run_s: float = 0.0
    server: str | None = None  # the machine that ran it: "local", or the RPC server's address
    # CPU threads the kernel ran on (the target's cores, here or on an RPC server); None on a GPU and
    # in records written before msgym set TVM's thread pool (it had run on TVM's default: _tvm.use_threads).
    threads: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.latency_s is not None

    @property
    def cv(self) -> float:
        """Spread of the repeats: standard deviation over mean."""
        if len(self.repeats) < 2:
            return 0.0
        return statistics.pstdev(self.repeats) / statistics.fmean(self.repeats)

    @property
    def ci95(self) -> "tuple[float, float] | None":
        """95% bootstrap interval of the latency (its estimator over the repeats); None without
        repeats. Wide where the repeats disagree: how far this one figure can be trusted."""
        if not self.ok or not self.repeats:
            return None
        from msgym.measure.protocol import interval

        return interval(self.repeats, self.estimator)

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "cv": self.cv, "ci95": self.ci95}

    @classmethod
    def from_json(cls, data: dict) -> "MeasureResult":
        fields = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        fields.setdefault("estimator", "median")  # written before the estimator was recorded
        return cls(**fields)
