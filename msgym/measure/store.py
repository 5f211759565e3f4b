"""Durable measurement records: JSON lines, appended and flushed as each result is known.

A run killed with ``kill -9`` loses at most the candidates in flight; a rerun with the same store
loads every record into the cache and measures only what is missing. One record per line:
the task (its string and fingerprint), the candidate (design space and decisions, or the program's
fingerprint for a bare program), the runner, the timing settings and the result.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

from msgym.measure.result import MeasureResult


def cache_dir() -> Path:
    """Where msgym keeps baselines and reference outputs: $MSGYM_CACHE_DIR or ~/.cache/msgym."""
    path = Path(os.environ.get("MSGYM_CACHE_DIR", Path.home() / ".cache" / "msgym"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_store() -> Path:
    """The record store measurers use unless told otherwise: ``records.jsonl`` in the cache folder."""
    return cache_dir() / "records.jsonl"


def candidate_key(task_key: str, space: "int | None", decisions: Any) -> str:
    """The cache key of a candidate: task fingerprint (program + target), design space, decisions."""
    return f"{task_key}|{space}|{json.dumps(decisions, separators=(',', ':'))}"


class RecordStore:
    """``fake``: this store's reader is a fake-runner measurer, which sees only fake results (and a
    real one never sees them), so a made-up latency can never answer a real request."""

    def __init__(self, path: "str | Path", fake: bool = False):
        self.path = Path(path)
        self.fake = fake
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._offset = 0  # bytes read so far by load_cache / read_new

    def append(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def load_cache(self) -> dict[str, "Entry"]:
        self._offset = 0
        return self.read_new()

    def read_new(self) -> dict[str, "Entry"]:
        """Entries appended since the last read, by this process or another sharing the file
        (parallel environments): whole lines only, so a line being written is read next time."""
        if not self.path.exists():
            return {}
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        out = {}
        for line in data[:end].splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill: that candidate is simply measured again
            if "key" in rec and (rec.get("runner") == "fake") == self.fake:
                out[rec["key"]] = Entry.from_record(rec)
        return out


@dataclasses.dataclass
class Entry:
    """A cached measurement: whose it is (task fingerprint, design space, decisions) and the result.

    ``space`` is None for a bare program, whose ``decisions`` is then the program's fingerprint."""

    task_key: str
    space: int | None
    decisions: Any
    result: MeasureResult

    @classmethod
    def from_record(cls, rec: dict) -> "Entry":
        return cls(rec["task_key"], rec["space"], rec["decisions"], MeasureResult.from_json(rec["result"]))


def make_record(
    key: str, task: Any, space: "int | None", decisions: Any, result: MeasureResult, runner: str, timing: Any
) -> dict:
    return {
        "key": key,
        "task": task.spec,
        "task_key": task.key,
        "target": str(task.target),
        "space": space,
        "decisions": decisions,
        "runner": runner,
        "timing": dataclasses.asdict(timing),
        "result": result.to_json(),
        "time": time.time(),
    }
