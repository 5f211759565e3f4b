"""``msgym collect``: a diverse set of measured candidates per task, for training cost models.

Half of each task's budget goes to uniform random walks, half to the evolutionary agent (its
children crowd around good candidates, where a cost model must rank finely). Everything lands in
the measurer's record store; seeded agents propose the same candidates again, which the store
answers without measuring, so an interrupted collection resumes where it stopped.
"""

from __future__ import annotations

from typing import Any

from msgym.measure import Measurer
from msgym.search import tune
from msgym.tasks import get_task
from msgym.tasks.sets import resolve


def collect(
    tasks: "str | list[str]",
    per_task: int,
    measurer: Measurer,
    seed: int = 0,
    progress: bool = True,
    target: "str | None" = None,
) -> dict[str, Any]:
    """``tasks``: a set name, a file listing tasks, T1,T2, or a list; ``target``: theirs (None: this CPU)."""
    tasks = resolve(tasks)
    if not isinstance(per_task, int) or per_task < 2:
        raise ValueError(f"per-task must be an integer >= 2, got {per_task!r}")
    resolved = [get_task(name, target) for name in tasks]  # unknown tasks fail before any measurement
    out = {}
    for task in resolved:
        before = measurer.measured
        # Different seeds: with the same one, the evolutionary agent's first (random) generation
        # would repeat the random agent's walks.
        for agent, trials, agent_seed in (
            ("random", per_task // 2, 2 * seed),
            ("evolutionary", per_task - per_task // 2, 2 * seed + 1),
        ):
            tune(task, agent, trials=trials, seed=agent_seed, measurer=measurer, progress=progress)
        ok = len(measurer.successes(task))
        out[task.name] = {"measured_now": measurer.measured - before, "stored_ok": ok}
    return out
