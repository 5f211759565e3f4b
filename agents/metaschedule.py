"""TVM MetaSchedule's own tuner: its evolutionary search guided by its XGBoost cost model.

The parts are those ``ms.tune_tir`` builds for one task (a ``TuneContext`` with the
post-order-apply space generator and ``EvolutionarySearch``, ``XGBModel``, a database of the
measured records), stepped the way its task scheduler steps them: generate a batch of measure
candidates, measure them, notify the search strategy, commit the records to the database,
update the cost model. The one difference is who measures: msgym's search loop, so
MetaSchedule's candidates are built, checked and timed exactly like every other agent's and
its budget is counted the same way. Each candidate's trace is located in msgym's design spaces
(the same generator, the same target), which is what makes its records msgym records. Now and
then one is not a point of them: MetaSchedule's ``MutateParallel`` changes the parallel extent
annotation, which msgym's spaces fix (in about 1 of 5 runs of 7 trials on gmm-64). Such a
candidate is told back to MetaSchedule as failed and costs no trial (``unlocated`` counts them).

``num_trials_per_iter`` is 16 rather than tune_tir's 64: at a budget of 64 trials, 64 per
iteration would leave the cost model nothing to learn from before the budget is spent.
"""

from __future__ import annotations

import math
from itertools import zip_longest
from typing import Any

import numpy as np

from msgym._tvm import load_tensor_intrinsics, ms
from msgym.cost_models import create as create_cost_model
from msgym.cost_models.build_time import BuildTimeModel
from msgym.cost_models.metaschedule import metaschedule_cost_model
from msgym.extended_space import program_context, space_contexts
from msgym.features import StoreFeatures
from msgym.measure import MeasureResult
from msgym.search import Candidate, SearchContext, SearchStrategy

FAILED_RUN_S = 1e10  # what MetaSchedule's AddToDatabase records for a failed run
# EvolutionarySearch's share of each batch drawn at random from its initial population rather than
# picked by the cost model (its ``eps_greedy``, 0.05 by default): the exploration that keeps a
# wrong model from steering every trial. ``PickWithEpsGreedy`` puts those picks last in the batch.
EPS_GREEDY = 0.05
# Of a batch drawn from several searches (programs, or design spaces with ``PER_SKETCH``), the share
# each search's own best fill before the rest go by score alone: the learned agent's pretrained model,
# on CBR/2 (a task it never saw), ranked one of its 3 design spaces above the others so that in 5 runs
# of 64 trials it measured nothing else, while MetaSchedule's best came from the other two in all 5
# (Zen 5, 448 against 375 verified GFLOPS; BENCHMARKS.md, "one evolution per design space").
SEARCH_FLOOR = 0.5
MEASURE_BATCH = 16  # the most the loop measures at a time for it (``SearchStrategy.measure_batch``)
MIN_POPULATION = 64  # the smallest population a search per design space gets (``PER_SKETCH``)


class MetaScheduleSearch(SearchStrategy):
    name = "metaschedule"
    MAX_EMPTY = 3  # empty batches in a row before the search counts as exhausted
    DEFAULT_COST_MODEL = "xgb"  # what cost_model=None means (a subclass may guide the search otherwise)
    COST_MODELS: tuple[str, ...] = ("xgb", "random", "mlp", "pretrained")  # by name; or a saved MLP (.pt)
    space_kinds = ("default",)  # MetaSchedule's rules: the baseline stays on its own space
    DEFAULT_TRIALS_PER_ITER = 16  # what num_trials_per_iter=None means (see the module docstring)
    PER_SKETCH = False  # one evolution per design space (sketch) rather than one over them all
    DEFAULT_GENETIC_ITERS = 4  # EvolutionarySearch's genetic_num_iters: rounds of mutation per batch
    # The share of each drawn batch, the costliest to build by the build-time model, left unmeasured
    # (``_cheapest``): the search draws that many more. MetaSchedule's own tuner has no such thing.
    DEFAULT_BUILD_DROP = 0.0

    def __init__(
        self,
        cost_model: "str | Any | None" = None,
        num_trials_per_iter: "int | None" = None,
        population_size: int = 512,
        num_threads: "int | str" = "physical",
        genetic_iters: "int | None" = None,
        build_drop: "float | None" = None,
    ):
        cost_model = self.DEFAULT_COST_MODEL if cost_model is None else cost_model
        build_drop = self.DEFAULT_BUILD_DROP if build_drop is None else build_drop
        if not 0.0 <= build_drop < 1.0:
            raise ValueError(
                f"build_drop must be in [0, 1) (the share of each batch left unmeasured), got {build_drop}"
            )
        self.build_drop = float(build_drop)
        num_trials_per_iter = self.DEFAULT_TRIALS_PER_ITER if num_trials_per_iter is None else num_trials_per_iter
        if num_trials_per_iter < 1:
            raise ValueError(f"num_trials_per_iter must be >= 1, got {num_trials_per_iter}")
        genetic_iters = self.DEFAULT_GENETIC_ITERS if genetic_iters is None else genetic_iters
        if genetic_iters < 1:
            raise ValueError(f"genetic_iters must be >= 1, got {genetic_iters}")
        self.genetic_iters = genetic_iters
        if isinstance(cost_model, str) and cost_model not in self.COST_MODELS and not cost_model.endswith(".pt"):
            raise ValueError(
                f"unknown cost model {cost_model!r} for {self.name}; "
                f"choose {', '.join(self.COST_MODELS)} or a saved MLP (.pt)"
            )
        self.cost_model_kind, self.num_trials_per_iter = cost_model, num_trials_per_iter
        self.population_size, self.num_threads = population_size, num_threads

    @property
    def measure_batch(self) -> int:  # type: ignore[override]
        """Its batch is drawn before any of it is measured, so the loop may measure it in larger steps
        (builds packed better); at most MEASURE_BATCH, so the search's build limit
        (``loop.BUILD_LIMIT``, from 8 builds on) still takes effect within a 64-trial run."""
        return min(self.num_trials_per_iter, MEASURE_BATCH)

    @property
    def draw_size(self) -> int:
        """Candidates drawn per batch: ``num_trials_per_iter``, and the share ``build_drop`` leaves unmeasured."""
        return math.ceil(self.num_trials_per_iter / (1.0 - self.build_drop))

    def hparams(self) -> dict:
        return {
            "cost_model": self.cost_model_kind
            if isinstance(self.cost_model_kind, str)
            else type(self.cost_model_kind).__name__,
            "num_trials_per_iter": self.num_trials_per_iter,
            "population_size": self.population_size,
            "genetic_iters": self.genetic_iters,
            "build_drop": self.build_drop,
        }

    def setup(self, context: SearchContext) -> None:
        super().setup(context)
        load_tensor_intrinsics()  # else the TuneContext's import of TVM's intrinsics takes ~80 s
        task = context.task
        # One MetaSchedule search per program of the task's space (the default space has one; the
        # extended one on a CPU maybe a second, its weights packed: ``extended_space.space_modules``),
        # or with ``PER_SKETCH`` one per design space of each.
        self.contexts, design_spaces = self._searches(task)
        self.tune_context = self.contexts[0]
        self.database = ms.database.MemoryDatabase()
        self.workloads = [self.database.commit_workload(tc.mod) for tc in self.contexts]
        # the MLP's adapter and the build-time model read the same candidates' rows: one cache
        self.features = StoreFeatures()
        self.cost_model = self._make_cost_model(context)
        self.build_model = BuildTimeModel.load() if self.build_drop > 0 else None
        self.build_dropped = 0
        for tc, spaces in zip(self.contexts, design_spaces):
            tc.pre_tuning(
                # The loop owns the budget. MetaSchedule's own count charges a whole batch even when it
                # finds fewer unmeasured candidates, which would end it a few trials early: give it slack.
                max_trials=2 * (context.trials or 10**6) + self.draw_size,
                num_trials_per_iter=self.draw_size,
                design_spaces=spaces,
                database=self.database,
                cost_model=self.cost_model,
            )
        self.spent: set[int] = set()  # searches whose budget is spent
        self.batch: list[tuple[int, Any, Candidate]] = []  # (search, MetaSchedule's candidate, located)
        self.served = 0
        self.results: dict[int, MeasureResult] = {}  # index in batch -> result
        self.unlocated = 0
        self.finished = False

    def propose(self, n: int) -> list[Candidate]:
        if self.served == len(self.batch) and not self._next_batch():
            return []
        out = []
        while self.served < len(self.batch) and len(out) < n:
            out.append(self.batch[self.served][2])
            self.served += 1
        return out

    def observe(self, candidates: list[Candidate], results: list[MeasureResult]) -> None:
        first = self.served - len(candidates)
        for i, result in enumerate(results):
            self.results[first + i] = result
        if self.served == len(self.batch) and len(self.results) == len(self.batch):
            self._notify()

    def scalars(self) -> dict[str, float]:
        return {"ms_unlocated": self.unlocated, "build_dropped": self.build_dropped}

    def close(self) -> None:
        if hasattr(self, "contexts") and not self.finished:
            for tc in self.contexts:
                tc.post_tuning()
            self.finished = True

    # ------------------------------------------------------------------------------ internals
    def _searches(self, task: Any) -> tuple[list, list]:
        """The searches' ``TuneContext`` and the design spaces each one searches: one search per
        program of the task's space, over all its design spaces (MetaSchedule's way); with
        ``PER_SKETCH``, one per design space of each program, the population shared out among all
        of them. Shared across programs too: where the extended space has the weight packed and not
        (two programs), each program's sketches getting the whole population doubled the learned
        agent's search (gmm-512, Zen 5: 8.1 s a run against 3.1 s in the default space)."""

        def search(population: int) -> Any:
            return lambda: ms.search_strategy.EvolutionarySearch(
                population_size=population, eps_greedy=EPS_GREEDY, genetic_num_iters=self.genetic_iters
            )

        # with PER_SKETCH the programs' own contexts only give their design spaces: no search of their own
        whole = None if self.PER_SKETCH else search(self.population_size)
        programs = space_contexts(task, self.seed, self.num_threads, search=whole)
        sketches = [list(tc.generate_design_space()) for tc in programs]
        if not self.PER_SKETCH:
            return programs, sketches
        contexts, spaces = [], []
        population = max(min(MIN_POPULATION, self.population_size), self.population_size // sum(map(len, sketches)))
        for tc, schs in zip(programs, sketches):
            for k, sch in enumerate(schs):
                seed = self.seed + 1000 * k  # a search of its own per design space
                contexts.append(program_context(task, tc.mod, seed, self.num_threads, search(population)))
                spaces.append([sch])
        return contexts, spaces

    def _make_cost_model(self, context: SearchContext) -> Any:
        """xgb / random: MetaSchedule's own; mlp, pretrained or a saved MLP (.pt): msgym's, through its adapter."""
        kind = self.cost_model_kind
        if not isinstance(kind, str):
            return kind  # a MetaSchedule cost model object
        if kind in ("xgb", "random"):
            return ms.cost_model.CostModel.create(
                kind,
                num_tuning_cores=self.tune_context.num_threads,
                **({"tree_method": "auto"} if kind == "xgb" else {}),
            )
        self.msgym_model = create_cost_model(kind)  # mlp, pretrained or a .pt file: it learns as the search goes
        return metaschedule_cost_model(self.msgym_model, context.baseline_s, self.features)

    def _next_batch(self) -> bool:
        """Ask MetaSchedule for its next batch of candidates; False when it has no more."""
        empty = 0
        while True:
            drawn = self._draw()
            if drawn is not None and len(drawn) == 0 and empty < self.MAX_EMPTY:
                empty += 1  # it found nothing unmeasured this time; its populations are random, try again
                continue
            if not drawn:  # None: its budget is spent; or empty MAX_EMPTY times in a row
                self.close()
                return False
            located = [(i, mc, self._locate(mc)) for i, mc in drawn]
            self.batch = [(i, mc, cand) for i, mc, cand in located if cand is not None]
            self.served, self.results = 0, {}
            # A candidate outside msgym's spaces cannot be measured like the others: it is told
            # that it failed (MetaSchedule's own record of a failed run), and costs no trial.
            for i in range(len(self.contexts)):
                unlocated = [mc for j, mc, cand in located if cand is None and j == i]
                self.unlocated += len(unlocated)
                if unlocated:
                    failed = ms.runner.RunnerResult(run_secs=None, error_msg="not in msgym's design spaces")
                    self._tell(i, unlocated, [failed] * len(unlocated))
            if self.batch:
                return True

    def _draw(self) -> "list[tuple[int, Any]] | None":
        """A batch of each search's candidates, as (search, candidate); None when every search's
        budget is spent. With several searches (packed and unpacked programs), the cost model
        picks the ``num_trials_per_iter`` it rates best of all their candidates."""
        drawn: list[tuple[int, Any]] = []
        for i, tc in enumerate(self.contexts):
            if i in self.spent:
                continue
            measure_candidates = tc.generate_measure_candidates()
            if measure_candidates is None:
                self.spent.add(i)
                continue
            drawn += [(i, mc) for mc in measure_candidates]
        if not drawn and len(self.spent) == len(self.contexts):
            return None
        if len(self.contexts) > 1 and len(drawn) > self.draw_size:
            drawn = self._best(drawn, self.draw_size)
        return self._cheapest(drawn, self.num_trials_per_iter)

    def _cheapest(self, drawn: "list[tuple[int, Any]]", n: int) -> "list[tuple[int, Any]]":
        """``drawn`` less its costliest to build by the build-time model, down to ``n``, in its order
        (unchanged without ``build_drop``). Each search (design space, with ``PER_SKETCH``) gives up
        its own costliest, in proportion to its share of ``drawn``, so the mix of design spaces the
        cost model chose (``SEARCH_FLOOR``) stays. Left unmeasured and untold: MetaSchedule may draw
        them again.

        Why: on 2 cores a learned search's wall time is mostly builds, and the slow builds are seldom
        the fast kernels. Of the candidates the learned agent measured on 6 tasks the model never saw
        (Zen 5), the quarter it predicts costliest took 45-64% of their build seconds on 5 of them
        (gmm-512: 22%); leaving that quarter out cut the measurements by 10-36% with kernels as fast
        (BENCHMARKS.md, "Issue 14: builds predicted")."""
        if self.build_model is None or len(drawn) <= n:
            return drawn
        mine = {i: [k for k, (j, _) in enumerate(drawn) if j == i] for i in sorted({i for i, _ in drawn})}
        quota = {i: len(ks) * n / len(drawn) for i, ks in mine.items()}
        counts = {i: math.floor(q) for i, q in quota.items()}
        for i in sorted(quota, key=lambda i: counts[i] - quota[i])[: n - sum(counts.values())]:
            counts[i] += 1  # the largest remainders first
        keep: set[int] = set()
        for i, ks in mine.items():
            rows = self.features.rows(self.contexts[i], [drawn[k][1] for k in ks])
            predicted = self.build_model.predict_rows(rows)
            keep.update(ks[r] for r in np.argsort(predicted, kind="stable")[: counts[i]])
        self.build_dropped += len(drawn) - len(keep)
        return [d for k, d in enumerate(drawn) if k in keep]

    def _best(self, drawn: "list[tuple[int, Any]]", n: int) -> "list[tuple[int, Any]]":
        """``n`` of the searches' candidates: each search's best-scored few (``SEARCH_FLOOR`` of the
        batch shared out among them), then the ones the cost model scores highest of the rest (ties,
        an untrained model, go by each search's own order), then MetaSchedule's share of random picks
        (``EPS_GREEDY``, the tail of each search's batch), taken from the searches in turn.

        Why keep the random picks: ranked with the rest by the model, they almost never made the
        cut (the model scores them low, which is why they are there), so with two programs (packed
        and not) the search lost the exploration MetaSchedule gives it with one. Why a floor per
        search: what a model ranks worst on a task it never saw is one design space against another
        (``SEARCH_FLOOR``)."""
        mine = {i: [k for k, (j, _) in enumerate(drawn) if j == i] for i in range(len(self.contexts))}
        share = int(n * EPS_GREEDY)  # each search was asked for n: its random picks are its last `share`
        tails = {i: ks[max(0, len(ks) - share) :] for i, ks in mine.items() if ks}
        randoms = [k for turn in zip_longest(*tails.values()) for k in turn if k is not None]
        kept = randoms[:share]
        ranked = {}  # search -> its candidates as (-score, its own rank, index), best first
        for i, ks in mine.items():
            ks = [k for k in ks if k not in kept]
            if ks:
                scores = self.cost_model.predict(self.contexts[i], [drawn[k][1] for k in ks])
                ranked[i] = sorted((-float(score), rank, k) for rank, (k, score) in enumerate(zip(ks, scores)))
        m = n - len(kept)
        floor = int(m * SEARCH_FLOOR / len(ranked)) if ranked else 0
        floors = [key for turn in zip(*(keys[:floor] for keys in ranked.values())) for key in turn]
        rest = sorted(key for keys in ranked.values() for key in keys[floor:])[: m - len(floors)]
        # each search's floor first (in turn), then the rest best-scored first, the random picks last
        # as in each search's own batch: a budget that ends inside the batch cuts the lowest-scored
        return [drawn[k] for _, _, k in floors + rest] + [drawn[k] for k in kept]

    def _locate(self, mc: Any) -> Candidate | None:
        where = self.spaces.locate(mc.sch.trace, mc.sch.mod)
        return None if where is None else Candidate.of(*where)

    def _notify(self) -> None:
        for i in range(len(self.contexts)):
            mine = [(mc, self.results[k]) for k, (j, mc, _) in enumerate(self.batch) if j == i]
            if mine:
                self._tell(i, [mc for mc, _ in mine], [self._runner_result(r) for _, r in mine])

    @staticmethod
    def _runner_result(r: MeasureResult) -> Any:
        if r.ok:
            return ms.runner.RunnerResult(run_secs=[float(r.latency_s)], error_msg=None)
        return ms.runner.RunnerResult(run_secs=None, error_msg=r.error)

    def _tell(self, search: int, measure_candidates: list, runner_results: list) -> None:
        """What MetaSchedule's task scheduler does once a batch is measured."""
        tc = self.contexts[search]
        tc.notify_runner_results(measure_candidates, runner_results)
        for mc, rr in zip(measure_candidates, runner_results):
            run_secs = rr.run_secs if rr.run_secs is not None else [FAILED_RUN_S]
            self.database.commit_tuning_record(
                ms.database.TuningRecord(
                    mc.sch.trace,
                    self.workloads[search],
                    run_secs=[float(x) for x in run_secs],
                    target=self.context.task.target,
                    args_info=mc.args_info,
                )
            )
        self.cost_model.update(tc, measure_candidates, runner_results)
