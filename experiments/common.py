"""What the benchmark scripts share (run as ``python experiments/NAME.py``: this folder is on the path)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any


def fastest_random(task_name: str, n: int, measurer: Any) -> tuple[Any, Any]:
    """(task, program) of the fastest of ``n`` seeded random candidates: a kernel a user would keep,
    not a random one, as the measurement benchmarks judge noise on."""
    from msgym.space import design_spaces
    from msgym.tasks import get_task

    task = get_task(task_name)
    spaces = design_spaces(task)
    cands = spaces.sample_distinct(random.Random(0), n)
    results = [measurer.measure(task, spaces.program(*c).mod) for c in cands]
    best = min(range(len(cands)), key=lambda i: results[i].latency_s if results[i].ok else float("inf"))
    return task, spaces.program(*cands[best]).mod


def emit(out: dict, path: "str | None") -> None:
    """Print the results, and write them to ``path`` if given."""
    print(json.dumps(out, indent=1))
    if path:
        write_json(out, path)


def write_json(out: dict, path: str) -> None:
    """Write the results to ``path``, making its folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(out, indent=1))


def quantile(xs: list[float], q: float) -> "float | None":
    """The ``q`` quantile of ``xs`` as the nearest lower rank (a figure that occurred; None if empty)."""
    xs = sorted(xs)
    return xs[int(q * (len(xs) - 1))] if xs else None
