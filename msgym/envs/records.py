"""Episode records: a small JSON document that replays a schedule exactly (CompilerGym style)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from msgym.space import design_spaces
from msgym.tasks import get_task

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

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "EpisodeRecord":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown or "task" not in data or "decisions" not in data:
            raise ValueError(f"not an msgym episode record: unknown keys {sorted(unknown)}, need task and decisions")
        return cls(**data)

    def replay(self):
        """Rebuild the final program (postprocessors applied) from the record."""
        task = get_task(self.task, json.loads(self.target))
        return design_spaces(task).program(self.space, self.decisions)


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
