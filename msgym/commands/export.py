"""``msgym export``: a run's best schedule (or every record) as a MetaSchedule JSON database."""

from __future__ import annotations

import json
from pathlib import Path

from msgym.envs.records import EpisodeRecord, load
from msgym.search.database import write_database
from msgym.tasks import Task


def export_run(
    run: "str | Path", database: "str | Path", all_records: bool = False, task: "str | None" = None
) -> tuple[Task, int]:
    """Write the run's best (``all_records``: every successful record) to ``database``; returns
    (the task, how many records were written). A run whose task is a Python file (a user's kernel)
    needs ``task``: the run folder's own string is not trusted to name code to import."""
    run = Path(run)
    source = run / ("records.jsonl" if all_records else "best.json")
    if not source.is_file():
        raise ValueError(
            f"{source} not found: give a run folder made by msgym tune or msgym bench"
            + ("" if all_records else " that found a valid kernel")
        )
    records = (
        [r for r in load(source) if r.latency_s]
        if all_records
        else [EpisodeRecord.from_json(json.loads(source.read_text()))]
    )
    task = records[0].task_of(task)
    write_database(task, database, [(r.space, r.decisions, r.latency_s) for r in records])
    return task, len(records)
