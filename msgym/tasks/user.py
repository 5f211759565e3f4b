"""Users' own programs: ``path/to/file.py:NAME`` names an object of a Python file, which is imported."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from msgym._tvm import tvm
from msgym.tasks.task import TaskError, as_module

__all__ = ["is_file_spec", "load_attr", "load_user_kernel"]


def is_file_spec(spec: str) -> bool:
    """``path/to/file.py:NAME``."""
    return ":" in spec and spec.rpartition(":")[0].endswith(".py")


def load_attr(spec: str, what: str = "task") -> tuple[Any, str]:
    """The object ``NAME`` of ``path/to/file.py:NAME`` (called if it is a zero-argument callable
    other than a TVM object), and a phrase naming it for error messages."""
    path_str, _, name = spec.rpartition(":")
    path = Path(path_str)
    if not path.is_file():
        raise TaskError(f"{what} {spec!r}: no such file {path_str!r}")
    if not name.isidentifier():
        raise TaskError(f"{what} {spec!r}: {name!r} is not a Python name; use path/to/file.py:NAME")
    mod_name = f"msgym_user_{abs(hash(str(path.resolve())))}"
    try:
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[mod_name] = module
        module_spec.loader.exec_module(module)
    except Exception as err:  # the user's file: any failure is reported, naming the file
        raise TaskError(f"{what} {spec!r}: importing {path_str} failed: {type(err).__name__}: {err}") from err
    if not hasattr(module, name):
        found = sorted(k for k in vars(module) if not k.startswith("_"))
        raise TaskError(f"{what} {spec!r}: {path_str} defines no {name!r}; it defines {found}")
    obj = getattr(module, name)
    origin = f"{what} {spec!r} ({path_str}:{name})"
    torch_module = hasattr(obj, "forward") and not isinstance(obj, type)  # an nn.Module instance: keep it
    if callable(obj) and not torch_module and not isinstance(obj, (tvm.tirx.PrimFunc, tvm.IRModule)):
        try:
            obj = obj()
        except Exception as err:
            raise TaskError(f"{origin}: calling {name}() failed: {type(err).__name__}: {err}") from err
    return obj, origin


def load_user_kernel(spec: str) -> tvm.IRModule:
    obj, origin = load_attr(spec)
    return as_module(obj, origin)
