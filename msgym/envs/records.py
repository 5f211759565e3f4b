"""Episode records: a small JSON document that replays a schedule exactly (CompilerGym style)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from msgym.space import design_spaces
from msgym.tasks import Task, get_task
from msgym.tasks.registry import runs_code

RECORD_VERSION = 1


@dataclasses.dataclass
class EpisodeRecord:
    task: str  # the task string (built-in name or file.py:NAME)
    target: str  # the target as TVM prints it (JSON)
    space: int  # which design space
    decisions: list[Any]  # one TVM decision per sampling instruction, in trace order
    seed: int | None = None
    reward_space: str = "log_speedup"
    reward: float | None = None
    latency_s: float | None = None
    speedup: float | None = None
    error: str | None = None
    wall_s: float = 0.0
    version: int = RECORD_VERSION
    space_kind: str = "default"  # which design spaces ``space`` indexes: MetaSchedule's or msgym's extended

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "EpisodeRecord":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown or "task" not in data or "decisions" not in data:
            raise ValueError(f"not an msgym episode record: unknown keys {sorted(unknown)}, need task and decisions")
        return cls(**data)

    def replay(self, task: "str | Task | None" = None):
        """Rebuild the final program (postprocessors applied) from the record.

        A record names its task by a string; if that string names a Python file (a user's kernel
        or model), loading it would run that file's code, so it is refused unless ``task`` names
        the task (a record received from someone else must not run their code)."""
        return design_spaces(self.task_of(task)).program(self.space, self.decisions)

    def task_of(self, task: "str | Task | None" = None) -> Task:
        """The record's task: ``task`` if given, else loaded
        from the record's string, which must not name a Python file (see ``replay``)."""
        if task is None:
            if runs_code(self.task):
                raise ValueError(
                    f"the record's task {self.task!r} names a Python file, which loading would run; "
                    "name the task yourself (replay(task=...), or --task on the command line) if you trust it"
                )
            task = self.task
        return get_task(task, json.loads(self.target), self.space_kind)


def append(path: "str | Path", record: EpisodeRecord) -> None:
    """Append one record to a JSON-lines file (flushed at once, so a killed run keeps it)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record.to_json()) + "\n")
        f.flush()


def load(path: "str | Path") -> Iterator[EpisodeRecord]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield EpisodeRecord.from_json(json.loads(line))
