"""The learned searcher: MetaSchedule's evolutionary search at its own scale, guided by msgym's MLP
cost model pretrained across tasks on the shipped dataset and fine-tuned online on the task's own
measurements.

Why this shape: what the searchers that beat TVM's tuner share is knowledge carried across tasks
and cheap scoring of many candidates. MetaSchedule's search already scores its population of 512
in C++ (mutation, postprocessing, per-store features on its threads); its weakness at small budgets
is a cost model that starts from nothing on every task (XGBoost on the first 16 measurements).
Here the model starts from what it learned on other operators (``cost_model=pretrained``,
``experiments/pretrain.py``; validated leave-one-operator-out in BENCHMARKS.md) and keeps learning
from the task's measurements as they arrive (``MLPCostModel.update_data``). Everything else is the
``metaschedule`` agent: its candidates are measured by msgym's loop like every agent's.

It is msgym's default agent (``msgym.search.DEFAULT_AGENT``). The shipped model was trained on CPU
measurements (features of LLVM programs); on a GPU target there is none, so the search starts from
MetaSchedule's XGBoost, the one that did best on the H200 (BENCHMARKS.md, "CUDA targets"):
``cost_model=auto``, the default, picks by target; a cost model given by name is used as it is.
With XGBoost from nothing it also takes MetaSchedule's 16 per batch (unless a batch is given): one
batch of 72 would be picked by a model that has seen no measurement.

Two rounds of mutation per search (``genetic_iters=2``; MetaSchedule's ``genetic_num_iters`` is 4):
the search is most of the learned agent's wall time, and half the rounds cost it nothing measurable
in quality. Measured on the Zen 5 (BENCHMARKS.md, "two rounds of mutation"; 5 tasks x 5 seeds, all
75 runs verified together): geomean 477.8 verified GFLOPS against 479.9 with 4 rounds and
MetaSchedule's 474.8 (intervals overlapping), the search 3-15 s a run instead of 6-26 s, wall time
0.37-0.71x MetaSchedule's instead of 0.52-0.86x (CBR/2, c2d and GRP/2 under 0.5x). On TBG/0, whose
wall time is its picks' builds: 319.4 against 304.0 with 4 rounds and MetaSchedule's 271.5 (1.18x,
separated), wall 2.2x MetaSchedule's instead of 3.7x.

The costliest quarter to build left unmeasured (``build_drop=0.25``): each search draws 96 for its
72, and a build-time model (``msgym/cost_models/build_time.py``, trained on builds of other tasks'
candidates) drops the 24 it predicts costliest to build, each design space's search its own share.
On 2 cores the builds are most of what is left of the learned agent's wall time, and the slow
builds (LLVM's back end over large vectorized inner tiles: 1-2 s where most take 0.05-0.1 s) are
seldom the fast kernels. Measured on the Zen 5 (BENCHMARKS.md, "Issue 14: builds predicted"; 5
tasks x 5 seeds, all runs verified together): geomean 490.5 verified GFLOPS against 486.6 without
and MetaSchedule's 481.9 (intervals overlapping), measurements 9.4 s instead of 13.1 on bmm, 10.5
instead of 14.8 on c2d; wall time 0.32-0.55x MetaSchedule's (without: 0.37-0.71x), gmm-512 0.49x.
Off on a GPU (its builds overlap its runs there, and the model knows CPU programs).

One search for 64 trials (``num_trials_per_iter=72``, where the ``metaschedule`` agent asks for 16
four times): each of MetaSchedule's batches costs a full evolutionary search of its 512-wide
population (10-11 s on gmm-512 and 31-34 s on c2d here, most of the learned agent's wall time),
and the pretrained model needs no first measurements to guide it. Measured on this machine
(BENCHMARKS.md, "Issue 14 on both cores: the dataset re-measured, one search per 64 trials";
2 seeds, verified): 16 per batch 203 GFLOPS geomean over gmm-512 and c2d at 57-200 s a run, 64 per batch 234
GFLOPS at 47-105 s; MetaSchedule 165 GFLOPS at 49-148 s. The 8 over 64 leave room for the candidates
msgym's spaces do not hold (``unlocated``), which would otherwise cost a second search for the last few.

One evolution per design space (``PER_SKETCH``), MetaSchedule's population of 512 shared out among
them, and half of each batch shared out among them too (``metaschedule.SEARCH_FLOOR``), the rest
going to the best-scored of all. With one evolution over all design spaces, the pretrained model's
preference for one of them decided the whole batch: on CBR/2 (Zen 5, 5 seeds) the learned agent
measured 320 candidates, all of one design space, while MetaSchedule's best came from the other two
in every seed (448 against 375 verified GFLOPS). Which design space suits an operator is what a model
trained on others knows least; within one, it ranks well.

It searches the extended space too (``space="extended"``), where the ``metaschedule`` agent, the
baseline, does not: MetaSchedule's evolution over the extended rules, whose own decisions
(parallel granularity, vector width, inner loop order) ``extended_space.MutateRootDecision``
mutates; where the task's weights may be packed, one search per design space of each program
(packed and not), the population of 512 shared out among all of them, the cost model choosing the
batch from all. Measured on the Zen 5 (BENCHMARKS.md, "Issue 14 in the extended space"; 5 tasks x 5
seeds): 1.04-1.05x MetaSchedule's verified geomean, 0.998-1.19x per task (no interval separated),
wall time 0.43-1.00x MetaSchedule's, its builds slower than the default space's.
"""

from __future__ import annotations

from typing import Any

from agents.metaschedule import MetaScheduleSearch
from msgym._tvm import is_gpu
from msgym.search import SearchContext


class LearnedSearch(MetaScheduleSearch):
    name = "learned"
    # auto: the pretrained MLP on a CPU; on a GPU, where no pretrained model ships, MetaSchedule's XGBoost
    DEFAULT_COST_MODEL = "auto"
    COST_MODELS = ("auto", *MetaScheduleSearch.COST_MODELS)
    DEFAULT_TRIALS_PER_ITER = 72  # one search per 64-trial budget (see the module docstring)
    PER_SKETCH = True  # one evolution per design space: the pretrained model favours one (SEARCH_FLOOR)
    DEFAULT_GENETIC_ITERS = 2  # rounds of mutation per search, MetaSchedule's 4 (see the module docstring)
    DEFAULT_BUILD_DROP = 0.25  # the costliest-to-build quarter of each batch left unmeasured (module docstring)
    space_kinds = ("default", "extended")  # MetaSchedule's search over msgym's extended rules too

    def __init__(
        self,
        cost_model: "str | Any | None" = None,
        num_trials_per_iter: "int | None" = None,
        genetic_iters: "int | None" = None,
        **kwargs: Any,
    ):
        super().__init__(cost_model, num_trials_per_iter, genetic_iters=genetic_iters, **kwargs)
        self._batch_given, self._iters_given = num_trials_per_iter is not None, genetic_iters is not None
        self._drop_given = kwargs.get("build_drop") is not None

    def setup(self, context: SearchContext) -> None:
        if self.cost_model_kind == "auto" and is_gpu(context.task.target):
            # No pretrained model: XGBoost starts from nothing, and one batch of 72 would be picked by
            # a model that has seen no measurement, so MetaSchedule's own schedule (16 per batch, its
            # rounds of mutation: the shorter search was measured with the pretrained model only).
            self.cost_model_kind = "xgb"
            if not self._batch_given:
                self.num_trials_per_iter = MetaScheduleSearch.DEFAULT_TRIALS_PER_ITER
            if not self._iters_given:
                self.genetic_iters = MetaScheduleSearch.DEFAULT_GENETIC_ITERS
            if not self._drop_given:  # a GPU machine builds beside its runs, and the model knows CPU programs
                self.build_drop = MetaScheduleSearch.DEFAULT_BUILD_DROP
        elif self.cost_model_kind == "auto":
            self.cost_model_kind = "pretrained"
        super().setup(context)
