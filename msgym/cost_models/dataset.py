"""A measured dataset that ships with msgym: what cost models are pretrained on.

Compact on purpose: one gzipped JSON-lines file per machine, a header line (format, the CPU as LLVM
names it, the command that made it) and then one row per measured candidate: task string, target,
design space, decisions, latency, and the task's baseline (its unscheduled program's latency, so
targets are log speedups). Replaying the decisions in msgym's design spaces gives the programs
back, so features are computed when the data is read, never stored. Anyone can add their machine's
measurements: ``msgym dataset export --tasks SET --out FILE`` writes one from their record store,
and ``load`` reads every shipped file plus any given.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "Row", "SHIPPED", "export", "load", "by_task", "operator_of"]

FORMAT = "msgym-dataset/1"
SHIPPED = Path(__file__).parent / "datasets"  # package data: datasets/*.jsonl.gz


@dataclasses.dataclass(frozen=True)
class Row:
    task: str  # a task string: get_task(task) makes it
    target: str
    cpu: str  # LLVM's mcpu of the machine that measured it
    space: int
    decisions: Any
    latency_s: float
    baseline_s: float
    # CPU threads the kernel ran on (MeasureResult.threads). None in files written before msgym set
    # TVM's pool: its default, half the hardware threads on x86 (one on this project's 2-vCPU VM).
    threads: int | None = None


def export(measurer: Any, tasks: Iterable[str], path: "str | Path", command: str = "") -> int:
    """Write every successful measurement of ``tasks`` in the measurer's cache (its record store)
    as a dataset file; returns the number of rows. Tasks with fewer than 2 are left out."""
    from msgym._tvm import host_cpu
    from msgym.tasks import get_task

    cpu = host_cpu()
    rows: list[Row] = []
    for name in tasks:
        task = get_task(name)
        ok = measurer.successes(task)
        if len(ok) < 2:
            continue
        baseline = measurer.baseline(task).latency_s
        rows += [
            Row(task.spec, str(task.target), cpu, e.space, e.decisions, e.result.latency_s, baseline, e.result.threads)
            for e in ok
        ]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        f.write(json.dumps({"format": FORMAT, "cpu": cpu, "command": command, "rows": len(rows)}) + "\n")
        for row in rows:
            f.write(json.dumps(dataclasses.asdict(row), separators=(",", ":")) + "\n")
    return len(rows)


def load(paths: "Sequence[str | Path] | None" = None, shipped: bool = True) -> list[Row]:
    """Rows of the shipped dataset files (``shipped``) and of ``paths``; a file that is not a
    dataset is an error naming it."""
    files = sorted(SHIPPED.glob("*.jsonl.gz")) if shipped else []
    files += [Path(p) for p in paths or []]
    rows: list[Row] = []
    for file in files:
        with gzip.open(file, "rt") as f:
            header = json.loads(f.readline() or "{}")
            if header.get("format") != FORMAT:
                raise ValueError(f"{file} is not an msgym dataset (its first line names no format {FORMAT!r})")
            rows += [Row(**json.loads(line)) for line in f if line.strip()]
    return rows


def by_task(rows: Iterable[Row]) -> dict[tuple[str, str, "int | None"], list[Row]]:
    """Rows grouped by (task, cpu, threads): latencies compare only within one machine and one
    thread count."""
    out: dict[tuple[str, str, int | None], list[Row]] = {}
    for row in rows:
        out.setdefault((row.task, row.cpu, row.threads), []).append(row)
    return out


def operator_of(task: str) -> str:
    """The operator a task string is of (``GMM/2`` -> ``GMM``, ``gmm-512`` -> ``GMM``), for
    leave-one-operator-out validation; a task that is no suite operator is its own."""
    from msgym.tasks.builtin import BUILTIN_TASKS

    if task in BUILTIN_TASKS:
        return BUILTIN_TASKS[task].key
    key, sep, _ = task.partition("/")
    return key if sep else task
