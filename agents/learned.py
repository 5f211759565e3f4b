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

from agents.metaschedule import MetaScheduleSearch


class LearnedSearch(MetaScheduleSearch):
    name = "learned"
    DEFAULT_COST_MODEL = "pretrained"
