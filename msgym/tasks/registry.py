"""From a task string to a ``Task``: a registry of loaders, one per kind of spec.

Each loader says whether a spec is its kind and loads it; ``get_task`` asks them in order:
built-in names, ``torch:MODEL@SHAPES/OPERATOR`` (a PyTorch model's fused operator), suite shapes
``KEY/INDEX``, then ``path/to/file.py:NAME`` (a user's kernel). ``register_loader`` adds a kind.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from pathlib import Path

from msgym._tvm import make_target
from msgym.tasks.builtin import BUILTIN_TASKS, SUITE_OPERATORS, builtin_names, suite_workload
from msgym.tasks.task import SPACE_KINDS, Task, TaskError
from msgym.tasks.user import is_file_spec, load_user_kernel

__all__ = ["TaskLoader", "LOADERS", "register_loader", "get_task", "runs_code"]


@dataclasses.dataclass(frozen=True)
class TaskLoader:
    name: str
    matches: Callable[[str], bool]
    load: Callable[[str, "str | None"], Task]  # (spec, target string or None for this CPU) -> Task


def _builtin(spec: str, target: "str | None") -> Task:
    workload = BUILTIN_TASKS[spec]
    return Task(spec, workload.build(), make_target(target), spec, constants=workload.constants)


def _torch(spec: str, target: "str | None") -> Task:
    from msgym.tasks.torch_import import task_from_spec  # torch is heavy: only when asked for

    return task_from_spec(spec, target)


def _suite(spec: str, target: "str | None") -> Task:
    workload = suite_workload(spec)
    return Task(spec, workload.build(), make_target(target), spec, constants=workload.constants)


def _user(spec: str, target: "str | None") -> Task:
    path, _, name = spec.rpartition(":")
    return Task(name=f"{Path(path).stem}:{name}", mod=load_user_kernel(spec), target=make_target(target), spec=spec)


LOADERS: list[TaskLoader] = [
    TaskLoader("builtin", lambda spec: spec in BUILTIN_TASKS, _builtin),
    TaskLoader("torch", lambda spec: spec.startswith("torch:"), _torch),
    TaskLoader("suite", lambda spec: spec.partition("/")[0] in SUITE_OPERATORS and "/" in spec, _suite),
    TaskLoader("file", is_file_spec, _user),
]


def runs_code(spec: str) -> bool:
    """Whether loading ``spec`` imports a Python file (a user's kernel or model): running its code.
    A task string read from a file someone else wrote (a record, a run folder) must not do that
    unless the user names the task themselves."""
    if spec.startswith("torch:"):
        model = spec[len("torch:") :].rpartition("/")[0].rpartition("@")[0]
        return is_file_spec(model)
    return is_file_spec(spec)


def register_loader(loader: TaskLoader) -> None:
    """Add a kind of task string (asked before the user-file kind, after the others)."""
    LOADERS.insert(len(LOADERS) - 1, loader)


@functools.lru_cache(maxsize=256)
def _load(spec: str, target: "str | None", space: str = "default") -> Task:
    if space != "default":
        return dataclasses.replace(_load(spec, target), space_kind=space)
    for loader in LOADERS:
        if loader.matches(spec):
            return loader.load(spec, target)
    raise TaskError(
        f"unknown task {spec!r}; built-in tasks are: {', '.join(builtin_names())}; "
        f"or an operator shape of MetaSchedule's suite, KEY/INDEX with KEY one of {', '.join(SUITE_OPERATORS)} "
        "(e.g. GMM/2); or path/to/file.py:NAME for your own kernel"
    )


def get_task(task: "str | Task", target: "str | dict | None" = None, space: "str | None" = None) -> Task:
    """The task named by a string (built-in name, suite shape ``KEY/INDEX``, ``torch:...`` or
    ``file.py:NAME``), or ``task`` itself; ``space``: its design space, ``default`` (MetaSchedule's,
    what None means for a string) or ``extended`` (``msgym.extended_space``)."""
    if space is not None and space not in SPACE_KINDS:
        raise TaskError(f"unknown design space {space!r}; choose one of {', '.join(SPACE_KINDS)}")
    if isinstance(task, Task):
        return task if space in (None, task.space_kind) else dataclasses.replace(task, space_kind=space)
    if not isinstance(task, str):
        raise TaskError(f"a task is a name or a Task, not {type(task).__name__}")
    return _load(
        task,
        None if target is None else json.dumps(target, sort_keys=True) if isinstance(target, dict) else str(target),
        space or "default",
    )
