"""The search loop: one agent on one task, a batch of proposals at a time, under a trial budget.

The loop owns the budget of measured trials, the measurer and the logging; the agent (a
``SearchStrategy``, made by name with ``create``) only proposes and observes. Each measured
candidate becomes a reward and a record through ``msgym.envs.outcome`` (the same function the
environment uses). A loop given no measurer makes one and closes it at the end.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

from msgym._tvm import host_cores, is_gpu
from msgym.envs.outcome import measure_candidates, outcome
from msgym.envs.records import EpisodeRecord
from msgym.envs.rewards import reward_space
from msgym.measure import Measurer, default_store
from msgym.search.drift import DriftMonitor
from msgym.search.registry import DEFAULT_AGENT, create
from msgym.search.run_log import RunLog, progress_bar
from msgym.search.strategy import SearchContext, SearchStrategy
from msgym.space import design_spaces
from msgym.tasks import Task, get_task

__all__ = ["Search", "TuneResult", "tune"]

REWARD = reward_space("log_speedup")  # what a search's records and search/reward hold
CPU_BATCH, GPU_BATCH = 4, 16  # candidates per step: a GPU machine builds a batch in parallel
TOP = 3  # how many of a search's best candidates its result keeps (to be re-timed by a verification)
# A build past BUILD_LIMIT times the search's median build (once BUILD_SAMPLES builds have succeeded;
# never under BUILD_FLOOR_S, never over the measurer's own timeout) is abandoned: an error, a trial
# spent. Why: in this machine's record store (about 25,000 measured candidates of 54 tasks) median
# builds took 0.07-0.5 s a task, and builds over 20 s were almost all TBG/0's (27 of its 1,165, 25
# more past the 60 s timeout: unroll 512 over 64-wide inner tiles), the fastest of them 1.28x slower
# than its best kernel. Not lower: TBG/0's builds of 10-20 s had reached 1.04x its best.
BUILD_LIMIT, BUILD_FLOOR_S, BUILD_SAMPLES = 20.0, 30.0, 8


def check_build_limit(build_limit: float | None) -> float | None:
    """The one bound on ``build_limit`` (the Search's and ``msgym tune --build-limit``'s)."""
    if build_limit is not None and not build_limit >= 1:
        raise ValueError(f"build_limit must be >= 1 (times the median build) or None (off), got {build_limit!r}")
    return build_limit


@dataclasses.dataclass
class TuneResult:
    task: str
    agent: str
    seed: int
    trials: int
    best: EpisodeRecord | None
    errors: int
    wall_s: float
    curve: list[float]  # best latency (s) after each trial; inf before the first success
    curve_wall_s: list[float]  # wall seconds since the start, after each trial
    best_gflops: float
    run_dir: str | None
    top: list[EpisodeRecord] = dataclasses.field(default_factory=list)  # the best few, fastest first
    drift: list[dict] = dataclasses.field(default_factory=list)  # the reference kernel's checks (DriftMonitor)
    flagged: list[int] = dataclasses.field(default_factory=list)  # trials (1-based) measured while drifting
    # The best few re-timed at the end (verify.py; None where not verified): the verdict to report.
    verified_latency_s: float | None = None
    verified_ci95: list[float] | None = None
    verified_gflops: float | None = None
    verified_slowdown: float | None = None  # verified / in-loop latency, median of the best few (verify.py)
    verified_attempts: int = 0  # verifications done (more than one: the first fell in a slow spell)
    space_kind: str = "default"  # the design space searched (metaschedule: always its own, the default)
    # Where the wall time went: the agent's proposing (its search, its cost model) and learning from
    # results, and measuring (build, check, time); the rest is setup, drift checks and verification.
    propose_s: float = 0.0
    measure_s: float = 0.0


class Search:
    """One agent searching one task, a batch at a time: ``tune`` runs one to its budget; whole-model
    tuning interleaves several (one per task of the model) under a shared budget."""

    def __init__(
        self,
        task: "str | Task",
        agent: "str | SearchStrategy" = DEFAULT_AGENT,
        trials: int = 16,
        seed: int = 0,
        logdir: "str | Path | None" = None,
        measurer: Measurer | None = None,
        progress: bool = True,
        remeasure: bool = False,
        agent_options: dict[str, Any] | None = None,
        drift_every: int = 0,
        build_limit: float | None = BUILD_LIMIT,
    ):
        if not isinstance(trials, int) or trials < 1:
            raise ValueError(f"trials must be a positive integer, got {trials!r}")
        check_build_limit(build_limit)
        self.strategy = create(agent, **(agent_options or {}))
        self.task = get_task(task)
        if self.task.space_kind not in self.strategy.space_kinds:
            self.task = get_task(self.task, space="default")
        self.spaces = design_spaces(self.task)
        self._owns_measurer = measurer is None
        self.measurer = measurer if measurer is not None else Measurer(store=default_store())
        try:
            self.baseline = self.measurer.baseline(self.task).latency_s
            self.log = RunLog(logdir, self.task, self.strategy.name, self.strategy.hparams(), seed, trials)
            self.run_dir = self.log.run_dir
            context = SearchContext(
                self.spaces, seed, trials, self.baseline, self.run_dir, host_cores(self.task.target)
            )
            self.strategy.setup(context)
        except BaseException:
            if self._owns_measurer:
                self.measurer.close()
            raise
        self.trials, self.seed, self.remeasure = trials, seed, remeasure
        self.build_limit = build_limit
        self.build_s: list[float] = []  # the build times of the search's successes (its build limit)
        # Every ``drift_every`` trials a fixed reference kernel is timed (0: never).
        self.drift = DriftMonitor(self.measurer, drift_every, target=self.task.target) if drift_every else None
        self.start = time.perf_counter()
        self.best: EpisodeRecord | None = None
        self.successes: list[EpisodeRecord] = []  # every successful trial (the best few are re-timed)
        self.curve: list[float] = []  # best latency (s) after each trial; inf before the first success
        self.curve_wall: list[float] = []
        self.errors = 0
        self.propose_s = self.measure_s = 0.0  # TuneResult's split of the wall time
        self.exhausted = False
        self.progress = progress  # shown: the bar, and a verification's wait out of a slow spell
        self.bar = progress_bar(trials, f"{self.task.name}/{self.strategy.name}", progress)

    @property
    def done(self) -> bool:
        return self.exhausted or len(self.curve) >= self.trials

    def step(self, batch: int = 4) -> int:
        """Propose, measure and observe up to ``batch`` candidates; returns how many were measured."""
        want = min(batch, self.trials - len(self.curve))
        t0 = time.perf_counter()
        proposals = self.strategy.propose(want)[:want] if want > 0 else []
        self.propose_s += time.perf_counter() - t0
        if not proposals:
            self.exhausted = True  # the strategy has nothing left to propose (a tiny space, exhausted)
            return 0
        self._check_drift()
        t0 = time.perf_counter()
        timeout = self.build_timeout()
        with self.measurer.timing_as(build_timeout_s=timeout):
            results = measure_candidates(
                self.measurer, self.spaces, [(c.space, c.decision_list()) for c in proposals], remeasure=self.remeasure
            )
        results = [self._explain_timeout(r, timeout) for r in results]
        self.build_s += [r.build_s for r in results if r.ok and r.build_s > 0]
        measured_s = time.perf_counter() - t0
        self.measure_s += measured_s
        per_candidate_s = measured_s / len(proposals)
        for cand, result in zip(proposals, results):
            rec = outcome(
                self.task, cand.space, cand.decision_list(), result, self.baseline, REWARD, self.seed, per_candidate_s
            ).record
            self.errors += not result.ok
            if result.ok:
                self.successes.append(rec)
            if result.ok and (self.best is None or result.latency_s < self.best.latency_s):
                self.best = rec
            self.curve.append(self.best.latency_s if self.best else math.inf)
            self.curve_wall.append(time.perf_counter() - self.start)
            self.log.trial(len(self.curve), rec, self.best, self.errors, self.baseline, self.curve_wall[-1])
            self.bar.update(1)
        t0 = time.perf_counter()
        self.strategy.observe(proposals, results)
        self.propose_s += time.perf_counter() - t0
        self.log.scalars("agent", self.strategy.scalars(), len(self.curve))
        return len(proposals)

    def build_timeout(self) -> float:
        """The build timeout for the next batch: the measurer's own, or, once ``BUILD_SAMPLES`` builds
        have succeeded, ``build_limit`` times their median if that is less (at least ``BUILD_FLOOR_S``)."""
        cap = self.measurer.timing.build_timeout_s
        if self.build_limit is None or len(self.build_s) < BUILD_SAMPLES:
            return cap
        return min(cap, max(BUILD_FLOOR_S, self.build_limit * statistics.median(self.build_s)))

    def _explain_timeout(self, result: Any, timeout: float) -> Any:
        """A build abandoned at the search's own limit says so (the measurer only knows its timeout)."""
        if (
            result.ok
            or timeout >= self.measurer.timing.build_timeout_s
            or "build timed out" not in (result.error or "")
        ):
            return result
        why = f"{self.build_limit:g}x this search's median build, {statistics.median(self.build_s):.2f} s"
        return dataclasses.replace(result, error=f"{result.error} (the search's build limit: {why})")

    def _check_drift(self, final: bool = False) -> None:
        done = len(self.curve)
        if self.drift is not None and (self.drift.due(done) or (final and self.drift.history[-1]["trial"] < done)):
            self.log.scalars("measure", {"drift": self.drift.check(done)}, done)

    def flagged(self) -> list[int]:
        """Trials (1-based) next to a drift check that found the machine off by more than its
        threshold: measured while the machine was not what it was at the start."""
        if self.drift is None:
            return []
        checks = self.drift.history
        off = {c["trial"] for c in checks if abs(c["drift"]) > self.drift.threshold}
        out = []
        for trial in range(1, len(self.curve) + 1):
            before = max((c["trial"] for c in checks if c["trial"] < trial), default=None)
            after = min((c["trial"] for c in checks if c["trial"] >= trial), default=None)
            if before in off or after in off:
                out.append(trial)
        return out

    def finish(self, verify_rounds: int = 0) -> TuneResult:
        """Close the strategy, the logs and a measurer the search made; the result so far.
        ``verify_rounds``: re-time the best few candidates in that many passes first (verify.py)."""
        self.bar.close()
        top = sorted(self.successes, key=lambda r: r.latency_s)[:TOP]
        verdict = None
        try:
            self._check_drift(final=True)  # a last check brackets the last trials (the measurer is still open)
            if verify_rounds and top:
                verdict = self._verify(top, verify_rounds)
        finally:
            try:
                self.strategy.close()
            finally:
                if self._owns_measurer:
                    self.measurer.close()
        task, best = self.task, self.best
        out = TuneResult(
            task.name,
            self.strategy.name,
            self.seed,
            len(self.curve),
            best,
            self.errors,
            time.perf_counter() - self.start,
            self.curve,
            self.curve_wall,
            task.gflops(best.latency_s if best else None),
            str(self.run_dir) if self.run_dir else None,
            top,
            list(self.drift.history) if self.drift else [],
            self.flagged(),
        )
        out.space_kind = task.space_kind
        out.propose_s, out.measure_s = self.propose_s, self.measure_s
        if verdict is not None:
            out.verified_latency_s, out.verified_ci95 = verdict["latency_s"], verdict["ci95"]
            out.verified_gflops = task.gflops(out.verified_latency_s)
            out.verified_slowdown, out.verified_attempts = verdict["slowdown"], verdict["attempts"]
        hparams = {
            "task": task.name,
            "agent": self.strategy.name,
            "seed": self.seed,
            "trials": self.trials,
            **{f"agent.{k}": v for k, v in self.strategy.hparams().items()},
        }
        self.log.close(hparams, best, out.best_gflops)
        if self.run_dir is not None and verdict is not None:
            verified = {"best": verdict, "rounds": verify_rounds}
            (self.run_dir / "verified.json").write_text(json.dumps(verified, indent=1))
        if self.run_dir is not None and self.drift is not None:
            (self.run_dir / "drift.json").write_text(
                json.dumps(
                    {"checks": out.drift, "flagged_trials": out.flagged, "threshold": self.drift.threshold}, indent=1
                )
            )
        return out

    def _verify(self, top: list[EpisodeRecord], rounds: int) -> dict:
        """The best of ``top``'s verdicts (verify.py), with the verification's ``slowdown`` and ``attempts``."""
        from msgym.search.verify import verify_steady

        cands = [
            {"space": r.space, "decisions": r.decisions, "space_kind": r.space_kind, "latency_s": r.latency_s}
            for r in top
        ]
        say = print if self.progress else None
        verdicts, steadiness = verify_steady(self.task, cands, self.measurer, rounds, self.seed, say=say)
        valid = [v for v in verdicts.values() if v["latency_s"] is not None]
        best = min(valid, key=lambda v: v["latency_s"]) if valid else {"latency_s": None, "ci95": None}
        return {**best, **steadiness}  # its slowdown against the loop's figures, and how many tries


def tune(
    task: "str | Task",
    agent: "str | SearchStrategy" = DEFAULT_AGENT,
    trials: int = 16,
    seed: int = 0,
    logdir: "str | Path | None" = None,
    batch: int | None = None,
    measurer: Measurer | None = None,
    progress: bool = True,
    remeasure: bool = False,
    agent_options: dict[str, Any] | None = None,
    drift_every: int = 0,
    verify_rounds: int = 0,
    build_limit: float | None = BUILD_LIMIT,
) -> TuneResult:
    """Search ``task`` with ``agent`` for ``trials`` measured candidates.

    ``agent_options`` go to the agent's constructor (e.g. ``{"policy": "policy.zip"}`` for ppo).
    ``remeasure=True`` measures every proposal even if the measurer has it cached (comparisons of
    agents' wall time must not let one agent reuse another's measurements). Without ``measurer``,
    the search makes one on the default record store and closes it. ``drift_every=K`` times a fixed
    reference kernel every K trials and flags the trials measured while it was off (``DriftMonitor``).
    ``verify_rounds=R`` re-times the best few at the end, R interleaved passes (``verified_*`` fields).
    ``build_limit=F``: once 8 builds have succeeded, a build past F times their median (at least 30 s)
    is abandoned (``BUILD_LIMIT`` says why; None: only the measurer's timeout).
    ``batch``: candidates proposed and measured at a time (None: the strategy's ``measure_batch``, else
    4 on a CPU; on a GPU 16, built in parallel while the GPU runs the last ones)."""
    search = Search(
        task, agent, trials, seed, logdir, measurer, progress, remeasure, agent_options, drift_every, build_limit
    )
    batch = batch or search.strategy.measure_batch or (GPU_BATCH if is_gpu(search.task.target) else CPU_BATCH)
    try:
        while not search.done:
            search.step(batch)
    finally:
        result = search.finish(verify_rounds)
    return result
