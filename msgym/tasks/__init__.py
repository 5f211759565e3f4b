"""Tuning tasks: what is tuned (a TIR program) and for which target.

A task is named by a string so that environments stay picklable (``registry.get_task``): a
built-in name (``msgym tasks`` lists them), a suite shape ``KEY/INDEX``, a PyTorch model's operator
``torch:MODEL@SHAPES/OPERATOR`` (``torch_import``), or ``path/to/file.py:NAME`` for a user's kernel,
where NAME is a PrimFunc, an IRModule holding one PrimFunc, or a zero-argument callable returning
either. ``sets`` names groups of tasks (train/test splits).
"""

from msgym.tasks.builtin import BUILTIN_TASKS, builtin_names
from msgym.tasks.registry import get_task
from msgym.tasks.task import Task, TaskError

__all__ = ["Task", "TaskError", "BUILTIN_TASKS", "get_task", "builtin_names"]
