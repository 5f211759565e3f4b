"""Verified verdicts: the best few candidates of every run, re-timed under a strict protocol.

An in-loop latency is one noisy measurement, taken whenever the search happened to reach it; this
VM drops into slower states for 0.1 s to seconds (protocol.py). So at the end of a ``tune``,
``bench``, ``eval`` or ``tune-model`` run, each run's best few candidates are timed again: every one
gets ``STRICT``'s repeats once per pass, ``rounds`` passes, each pass in a seeded shuffled order over
all the task's runs' candidates (and the task's PyTorch eager equivalent, when asked), so the
machine's states hit every agent alike. A candidate's verified latency is the measurer's estimator
(the minimum) over its repeats of all passes: repeats taken at several moments, so a slow state in
one pass does not decide it; its interval is the bootstrap's over the same repeats. A run's
verified latency is its best candidate's. Leaderboards rank by these; in-loop curves stay as they were.

A slow spell can outlast a whole verification, though: in one bench (issue 13's fourth pair) c2d's
kernels re-timed at a median 1.25x the latencies they had run at in the loop minutes before, and the
bench's verdicts on c2d were 15-33% low with them. So a task's verification is checked against its
candidates' in-loop latencies (``slowdown``: the median of verified / in-loop over the candidates
that have one; the in-loop figure is a minimum over fewer repeats, so a verification in the loop's
state is near 1.0: 0.97-1.07 in the verifications made with it since), and one more than
``SPELL_SLOWDOWN`` is done again after a wait (``SPELL_WAITS_S``), the least slow of the tries kept
and recorded (``verified_slowdown``, ``verified_attempts``).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from msgym.measure.protocol import estimate, interval
from msgym.space import design_spaces
from msgym.tasks import Task, get_task

__all__ = [
    "SPELL_SLOWDOWN",
    "SPELL_WAITS_S",
    "STRICT",
    "Verdict",
    "candidate_key",
    "slowdown",
    "time_interleaved",
    "verify_candidates",
    "verify_runs",
    "verify_steady",
]

# Every candidate: 15 repeats a pass, never adaptive (all are contenders), always time_evaluator.
STRICT = {"repeat": 15, "adaptive": False, "slow_kernel_s": 1e9}  # changes to the measurer's TimingConfig

Verdict = dict  # {"latency_s": float | None, "ci95": [low, high] | None, "repeats": int}

# A verification whose kernels ran this much slower than in the loop (median) fell in a slow spell;
# it is done again after each wait in turn (this VM's spells: seconds, once two minutes).
SPELL_SLOWDOWN = 1.10
SPELL_WAITS_S = (30.0, 60.0)


def candidate_key(cand: dict) -> str:
    """A candidate's key among one task's (``space``, ``decisions`` and, where it is not the default,
    ``space_kind``): what verdicts are indexed by, and how experiments tell records of a store apart."""
    kind = cand.get("space_kind", "default")
    return json.dumps([cand["space"], cand["decisions"]] + ([kind] if kind != "default" else []))


def verify_candidates(
    task: Task,
    candidates: list[dict],
    measurer: Any,
    rounds: int = 3,
    seed: int = 0,
    extra: dict[str, Callable[[], list[float]]] | None = None,
) -> dict[str, Verdict]:
    """Re-time ``candidates`` (dicts with ``space`` and ``decisions``) of ``task``, ``rounds`` passes,
    interleaved with ``extra`` timers (name -> a function returning repeats in seconds, run while
    no kernel runs: e.g. the PyTorch equivalent). Returns verdicts by candidate key
    (``json.dumps([space, decisions])``, with the candidate's ``space_kind`` appended where it is not
    the default) and by extra name. Candidates of the task's design spaces of both kinds are timed
    together (a bench of the extended space verifies metaschedule's, on the default, beside them)."""
    programs = {}
    for key in sorted({candidate_key(c) for c in candidates}):
        space, decisions, *kind = json.loads(key)
        spaces = design_spaces(get_task(task, space=kind[0] if kind else "default"))
        programs[key] = spaces.program_mod(space, decisions)
    timers: dict[str, Callable[[], list[float]]] = {
        key: (lambda mod=mod: _repeats(measurer.measure(task, mod, use_cache=False))) for key, mod in programs.items()
    }
    timers.update(extra or {})
    with measurer.timing_as(**STRICT):
        return time_interleaved(timers, rounds, seed, measurer.timing.estimator)


def slowdown(candidates: list[dict], verdicts: dict[str, Verdict]) -> float | None:
    """Median over ``candidates`` with an in-loop ``latency_s`` of their verified / in-loop latency
    (None: none has both)."""
    ratios = [
        verdicts[candidate_key(c)]["latency_s"] / c["latency_s"]
        for c in candidates
        if c.get("latency_s") and verdicts.get(candidate_key(c), {}).get("latency_s")
    ]
    return statistics.median(ratios) if ratios else None


def verify_steady(
    task: Task,
    candidates: list[dict],
    measurer: Any,
    rounds: int = 3,
    seed: int = 0,
    extra: dict[str, Callable[[], list[float]]] | None = None,
    waits: "tuple[float, ...]" = SPELL_WAITS_S,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] | None = None,
) -> tuple[dict[str, Verdict], dict]:
    """``verify_candidates``, done again after each of ``waits`` while its ``slowdown`` is over
    ``SPELL_SLOWDOWN``. Returns the least slow try's verdicts and ``{"slowdown", "attempts"}``
    (``slowdown`` None where no candidate has an in-loop latency). ``say``: told of each wait
    before it starts (a command's user would otherwise see it stop for a minute)."""
    tries: list[tuple[float | None, dict[str, Verdict]]] = []
    for wait in (0.0, *waits):
        if wait:
            if say is not None:
                say(
                    f"{task.name}: verification {tries[-1][0]:.2f}x slower than the loop (a slow spell of the "
                    f"machine); verifying again in {wait:.0f} s"
                )
            sleep(wait)
        verdicts = verify_candidates(task, candidates, measurer, rounds, seed, extra)
        level = slowdown(candidates, verdicts)
        tries.append((level, verdicts))
        if level is None or level <= SPELL_SLOWDOWN:  # None: nothing to compare with (no in-loop figures)
            break
    level, verdicts = min(tries, key=lambda t: 1.0 if t[0] is None else t[0])
    return verdicts, {"slowdown": level, "attempts": len(tries)}


def time_interleaved(
    timers: dict[str, Callable[[], list[float]]], rounds: int, seed: int, estimator: str
) -> dict[str, Verdict]:
    """Each timer (returning repeats in seconds) once per pass, ``rounds`` passes, each in a seeded
    shuffled order; per timer, ``estimator`` over all its passes' repeats and its 95% interval."""
    pooled: dict[str, list[float]] = {key: [] for key in timers}
    rng = random.Random(seed)
    for _ in range(rounds):
        order = list(timers)
        rng.shuffle(order)
        for key in order:
            pooled[key] += timers[key]()
    return {
        key: {
            "latency_s": estimate(reps, estimator) if reps else None,
            "ci95": list(interval(reps, estimator)) if reps else None,
            "repeats": len(reps),
        }
        for key, reps in pooled.items()
    }


def _repeats(result: Any) -> list[float]:
    return list(result.repeats) if result.ok else []


def verify_runs(
    runs: list[dict],
    measurer: Any,
    rounds: int = 3,
    seed: int = 0,
    extra: "Callable[[Task], dict[str, Callable[[], list[float]]]] | None" = None,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Verdict]]:
    """Add ``verified_latency_s``, ``verified_ci95`` and ``verified_gflops`` to every run (a bench
    JSON row with ``top_candidates``) that lacks them, and the task's verification's
    ``verified_slowdown`` and ``verified_attempts`` (``verify_steady``; ``say`` told of its waits).
    ``extra(task)`` gives timers to interleave with each task's candidates; returns their verdicts
    by task name."""
    todo = [r for r in runs if r.get("top_candidates") and "verified_latency_s" not in r]
    out: dict[str, dict[str, Verdict]] = {}
    for task_name in dict.fromkeys(r["task"] for r in todo):
        task_runs = [r for r in todo if r["task"] == task_name]
        # Older bench JSONs have no target: this CPU. Each candidate names its design space.
        task = get_task(task_name, task_runs[0].get("target"))
        timers = extra(task) if extra else {}
        cands = [c for r in task_runs for c in r["top_candidates"]]
        verdicts, steadiness = verify_steady(task, cands, measurer, rounds, seed, timers, sleep=sleep, say=say)
        for run in task_runs:
            mine = [verdicts[candidate_key(c)] for c in run["top_candidates"]]
            mine = [v for v in mine if v["latency_s"]]
            best = min(mine, key=lambda v: v["latency_s"], default=None)
            run["verified_latency_s"] = best["latency_s"] if best else None
            run["verified_ci95"] = best["ci95"] if best else None
            run["verified_gflops"] = task.gflops(run["verified_latency_s"])
            run["verified_rounds"] = rounds
            run["verified_slowdown"], run["verified_attempts"] = steadiness["slowdown"], steadiness["attempts"]
        out[task_name] = {name: verdicts[name] for name in timers}
    return out
