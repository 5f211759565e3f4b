"""A killable worker process with one job in flight and a deadline for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

from msgym.measure.worker import BOOT

STARTUP_S = 120.0  # a new worker imports TVM before its first job


class WorkerLost(Exception):
    """The worker hung past its deadline or died; it has been killed."""


class WorkerProcess:
    def __init__(self, role: str):
        self.role = role
        self.proc: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self.deadline: float | None = None
        self.job: Any = None
        self.restarts = 0
        self.fresh = True

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def busy(self) -> bool:
        return self.job is not None

    def submit(self, message: tuple, timeout_s: float, job: Any) -> None:
        self._ensure()
        extra = STARTUP_S if self.fresh else 0.0
        self.conn.send(message)
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s + extra
        self.job = job

    def restart_clock(self, job: Any, timeout_s: float) -> None:
        """Keep waiting on ``job`` (after an intermediate answer), with a fresh timeout."""
        self.job, self.timeout_s, self.deadline = job, timeout_s, time.monotonic() + timeout_s

    def receive(self) -> tuple:
        """The in-flight job's answer (call when ``conn`` is readable or the deadline passed)."""
        if time.monotonic() > self.deadline and not self.conn.poll(0):
            self.kill()
            raise WorkerLost(f"{self.role} timed out after {self.timeout_s:.3g} s; the {self.role} worker was replaced")
        try:
            answer = self.conn.recv()
        except (EOFError, OSError):
            code = self.proc.wait(timeout=5) if self.proc is not None else None
            self.kill()
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            raise WorkerLost(f"the {self.role} worker died ({how}); it was replaced") from None
        finally:
            self.job, self.deadline = None, None
        self.fresh = False
        return answer

    def _ensure(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        parent, child = socket.socketpair()
        # The worker is told who its parent is, so that it ends when the parent does (see worker.py).
        self.proc = subprocess.Popen(
            [sys.executable, "-c", BOOT, str(child.fileno()), str(os.getpid())], pass_fds=(child.fileno(),)
        )
        child.close()
        self.conn = Connection(parent.detach())
        self.fresh = True

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.restarts += 1
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None
        self.job = self.deadline = None

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.conn.send(None)
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None
