"""Let an agent that acts in the environment (PPO) be driven by the search loop.

An RL library's training loop (SB3's ``learn``) blocks: it steps the environment until it is done.
The search loop, though, owns the measurement budget. ``LoopMeasurer`` joins the two: the
agent's training runs in a thread, in a ``ScheduleEnv`` whose measurer is a ``LoopMeasurer``;
when an episode ends on a candidate never measured, the thread hands it to the search loop as
a proposal and waits for its result, which becomes the episode's reward. A candidate measured
before is answered from memory at no cost to the budget. If the agent keeps repeating itself
(``max_repeats`` episodes in a row), the loop is told it has stalled and may propose something
else meanwhile, so a converged policy cannot hang the search.

The agent's thread and the search loop's never run at the same time: ``step`` hands control
over and waits. An agent whose library draws from the process-wide random generators (SB3 does)
keeps its own stream by wrapping its ``step`` calls (see ``agents/ppo.py``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from msgym.measure import MeasureResult, ProgramRequest
from msgym.space import Candidate

_STOP = object()


class Stopped(Exception):
    """Raised in the agent's thread when the search is over."""


class LoopMeasurer:
    """The measurer of an env driven by the search loop (see the module docstring)."""

    def __init__(self, baseline_s: float, max_repeats: int = 32):
        if max_repeats < 1:
            raise ValueError(f"max_repeats must be >= 1, got {max_repeats}")
        self.baseline_s, self.max_repeats = baseline_s, max_repeats
        self.memory: dict[Candidate, MeasureResult] = {}
        self.repeats = 0  # episodes answered from memory
        self.stalls = 0  # times the agent repeated itself max_repeats times in a row
        self._in_a_row = 0
        self._requests: queue.Queue = queue.Queue()
        self._replies: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- the agent's thread
    def measure_programs(
        self, task: Any, requests: Sequence[ProgramRequest], use_cache: bool = True
    ) -> list[MeasureResult]:
        """The measurer's interface, seen from the agent's env: each request is a candidate."""
        out = []
        for request in requests:
            cand = Candidate.of(request.space, request.decisions)
            if cand in self.memory:
                self.repeats += 1
                self._in_a_row += 1
                if self._in_a_row >= self.max_repeats:
                    self.stalls += 1
                    self._in_a_row = 0
                    self._ask("stalled", None)
            while cand not in self.memory:
                self._ask("measure", cand)
                self._in_a_row = 0
            out.append(self.memory[cand])
        return out

    def baseline(self, task: Any) -> MeasureResult:
        """The search's baseline (the loop measured it), so the env's rewards are the loop's."""
        return MeasureResult(latency_s=self.baseline_s, repeats=[self.baseline_s])

    def _ask(self, kind: str, cand: Candidate | None) -> None:
        self._requests.put((kind, cand))
        if self._replies.get() is _STOP:
            raise Stopped

    # ---------------------------------------------------------------- the search loop's thread
    def start(self, body: Callable[[], Any]) -> None:
        """Set ``body`` (the agent's training loop) to run in a daemon thread from the first ``step``."""
        self._thread = threading.Thread(target=self._run, args=(body,), name="msgym-agent", daemon=True)

    def _run(self, body: Callable[[], Any]) -> None:
        try:
            body()
        except Stopped:
            return
        except BaseException as err:  # surfaced in the search loop's thread
            self._requests.put(("error", err))
            return
        self._requests.put(("done", None))

    def step(
        self, candidates: list[Candidate] | None = None, results: list[MeasureResult] | None = None
    ) -> tuple[str, Candidate | None]:
        """Give the agent the results it asked for (none at first), let it run until its next
        request, and return that: ("measure", candidate), ("stalled", None) or ("done", None)."""
        if candidates is not None:
            self.memory.update(zip(candidates, results))
            self._replies.put(None)
        elif not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()
        kind, payload = self._requests.get()
        if kind == "error":
            raise RuntimeError(f"the agent's training loop failed: {payload!r}") from payload
        return kind, payload

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._replies.put(_STOP)
            self._thread.join(timeout_s)
