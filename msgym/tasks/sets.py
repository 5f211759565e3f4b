"""Named sets of tasks, with a documented train/test split, for training across tasks.

A set is a list of task strings (built-in names, suite shapes ``KEY/INDEX``, user kernels
``file.py:NAME``). ``resolve`` also reads a file listing tasks (one per line, ``#`` comments)
and comma-separated lists, so every command that takes ``--tasks`` takes any of these.

Split: ``train`` holds matmuls, 2-D convolutions, depthwise convolutions, softmax and norms at
several of the suite's shapes; ``test`` holds operators the training set never shows (conv +
batch norm + relu, grouped conv2d, transposed batch matmul) and a matmul shape it never shows.
"""

from __future__ import annotations

from pathlib import Path

from msgym.tasks.task import TaskError

TASK_SETS: dict[str, list[str]] = {
    # Shapes picked to build and time in well under a second each on a laptop CPU.
    "train": [
        "GMM/0",
        "GMM/1",
        "GMM/2",
        "C2D/1",
        "C2D/2",
        "C2D/3",
        "DEP/0",
        "DEP/2",
        "DEP/3",
        "SFM/0",
        "SFM/1",
        "NRM/0",
        "NRM/1",
        "C1D/0",
        "C1D/3",
    ],
    "test": ["CBR/2", "GRP/2", "TBG/0", "bmm"],
    # Two small tasks and one unseen: for tests and quick tries.
    "tiny-train": ["gmm-64", "sfm-64"],
    "tiny-test": ["nrm"],
}


def model_tasks(min_mflop: float = 0.5) -> list[str]:
    """The ``models`` set: the built-in PyTorch models' operators with real work in them."""
    from msgym.tasks.models import BUILTIN_MODELS
    from msgym.tasks.torch_import import import_model

    return [mt.task.spec for model in BUILTIN_MODELS for mt in import_model(model) if mt.task.flops >= min_mflop * 1e6]


def resolve(spec: "str | list[str]") -> list[str]:
    """Task strings of a set name, a file listing tasks, a comma-separated list (whose parts may
    be set names: ``gmm-512,test``), or a list."""
    if isinstance(spec, list):
        names = spec
    elif spec == "models":
        names = model_tasks()
    elif spec in TASK_SETS:
        names = TASK_SETS[spec]
    elif Path(spec).is_file() and not spec.endswith(".py"):
        lines = (line.split("#", 1)[0].strip() for line in Path(spec).read_text().splitlines())
        names = [line for line in lines if line]
    else:
        parts = [part.strip() for part in spec.split(",") if part.strip()]
        names = [name for part in parts for name in (resolve(part) if part in (*TASK_SETS, "models") else [part])]
    if not names:
        raise TaskError(
            f"no tasks in {spec!r}: give a set ({', '.join(TASK_SETS)}, models), a file listing tasks "
            "(one per line), or comma-separated task names"
        )
    return names
