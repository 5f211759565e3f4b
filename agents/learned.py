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
"""

from __future__ import annotations

from typing import Any

from agents.metaschedule import MetaScheduleSearch


class LearnedSearch(MetaScheduleSearch):
    name = "learned"

    def __init__(
        self,
        cost_model: "str | Any" = "pretrained",
        num_trials_per_iter: int = 16,
        population_size: int = 512,
        num_threads: "int | str" = "physical",
    ):
        super().__init__(cost_model, num_trials_per_iter, population_size, num_threads)
