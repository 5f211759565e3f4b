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
"""

from __future__ import annotations

from agents.metaschedule import MetaScheduleSearch
from msgym._tvm import is_gpu
from msgym.search import SearchContext


class LearnedSearch(MetaScheduleSearch):
    name = "learned"
    # auto: the pretrained MLP on a CPU; on a GPU, where no pretrained model ships, MetaSchedule's XGBoost
    DEFAULT_COST_MODEL = "auto"
    COST_MODELS = ("auto", *MetaScheduleSearch.COST_MODELS)

    def setup(self, context: SearchContext) -> None:
        if self.cost_model_kind == "auto":
            self.cost_model_kind = "xgb" if is_gpu(context.task.target) else "pretrained"
        super().setup(context)
