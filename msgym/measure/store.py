"""Durable measurement records: JSON lines, appended and flushed as each result is known.

A run killed with ``kill -9`` loses at most the candidates in flight; a rerun with the same store
loads every record into the cache and measures only what is missing. An append always starts on
a fresh line (a line cut short by a crash stays alone, never glued to the next record), and a line
that cannot be read is reported (``file:line``) and skipped, never fatal. One record per line:
the task (its string and fingerprint), the candidate (design space and decisions, or the program's
fingerprint for a bare program), the runner, the timing settings and the result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from msgym.measure.result import MeasureResult


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes, held while the block runs (the OS releases it if the
    holder dies, so a dead process never blocks anyone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class CacheError(ValueError):
    """A cache folder or record store that cannot be used; the message says which and why."""


def cache_dir() -> Path:
    """Where msgym keeps baselines, reference outputs and records: $MSGYM_CACHE_DIR or ~/.cache/msgym."""
    value = os.environ.get("MSGYM_CACHE_DIR")
    if value is not None and not value.strip():
        raise CacheError("MSGYM_CACHE_DIR is set but empty; name a folder, or unset it for ~/.cache/msgym")
    path = Path(value) if value is not None else Path.home() / ".cache" / "msgym"
    return usable_folder(path, "the cache folder" + (" (MSGYM_CACHE_DIR)" if value is not None else ""))


def usable_folder(path: Path, what: str) -> Path:
    """``path``, made if missing, if it is a folder this process can write in; else a CacheError."""
    if path.exists() and not path.is_dir():
        raise CacheError(f"{what} {path} is a file, not a folder; name a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CacheError(f"{what} {path} cannot be made: {err.strerror or err}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CacheError(f"{what} {path} is not writable by this user; name another folder")
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
        if self.path.is_dir():
            raise CacheError(
                f"the record store {self.path} is a folder; name a file (e.g. {self.path / 'records.jsonl'})"
            )
        usable_folder(self.path.parent, "the record store's folder")
        self._offset = 0  # bytes read so far by load_cache / read_new
        self._line = 0  # lines read so far (for reports)

    def append(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        # One appender at a time (the check below stays true until the write).
        with file_lock(self.path), open(self.path, "a+b") as f:
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":  # a line cut short by a crash: never glue onto it
                    line = b"\n" + line
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
        for line in data[:end].split(b"\n")[:-1]:
            self._line += 1
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if (rec.get("runner") == "fake") == self.fake:
                    out[rec["key"]] = Entry.from_record(rec)
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                # A line cut short by a crash, or one that is not a record: that candidate is simply
                # measured again.
                warnings.warn(
                    f"{self.path}:{self._line}: unreadable record skipped ({type(err).__name__}: {err})", stacklevel=2
                )
        return out


@dataclasses.dataclass
class Entry:
    """A cached measurement: whose it is (task fingerprint, design space, decisions) and the result.

    ``space`` is None for a bare program, whose ``decisions`` is then the program's fingerprint."""

    task_key: str
    space: int | None
    decisions: Any
    result: MeasureResult
    limits: tuple[float, float] = (float("inf"), float("inf"))  # (build, run) timeouts it was measured under

    @classmethod
    def from_record(cls, rec: dict) -> "Entry":
        timing = rec.get("timing") or {}
        limits = (float(timing.get("build_timeout_s", "inf")), float(timing.get("run_timeout_s", "inf")))
        return cls(rec["task_key"], rec["space"], rec["decisions"], MeasureResult.from_json(rec["result"]), limits)

    def answers(
        self, limits: tuple[float, float], estimator: "str | None" = None, threads: "int | None" = None
    ) -> bool:
        """Whether this result stands under ``limits``, ``estimator`` and ``threads``: a success does if
        its latency is the same statistic (a median is not a minimum: it is measured again) and, where
        ``threads`` is given, the kernel ran on that many CPU threads (records before msgym set TVM's
        pool ran on its default, one thread on a 2-core VM: measured again); a failure only if it
        happened under limits at least as large (a timeout under 3 s says nothing about 600 s)."""
        if self.result.ok:
            same_statistic = estimator is None or self.result.estimator == estimator
            return same_statistic and (threads is None or self.result.threads == threads)
        return all(mine >= theirs for mine, theirs in zip(self.limits, limits))


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
