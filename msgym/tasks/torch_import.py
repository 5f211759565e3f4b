"""Tuning tasks from PyTorch models: ``torch.export`` -> TVM Relax -> fused operators -> msgym tasks.

The model is exported, converted by TVM's Relax PyTorch frontend, decomposed for inference,
legalized to TIR, fused, and MetaSchedule extracts one task per distinct fused operator with
its weight (how often it occurs). Each becomes an msgym task named ``MODEL/OPERATOR`` whose spec
``torch:MODEL@SHAPES/OPERATOR`` recreates it anywhere a task string is accepted.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any

from msgym._tvm import load_tensor_intrinsics, make_target, ms, structural_key, tvm
from msgym.tasks.models import BUILTIN_MODELS
from msgym.tasks.task import Task, TaskError
from msgym.tasks.user import is_file_spec, load_attr


@dataclasses.dataclass(frozen=True)
class ModelTask:
    task: Task
    weight: int  # occurrences of this fused operator in the model
    operator: str


def parse_shapes(texts: "list[str] | str") -> list[tuple[int, ...]]:
    """ "1,3,224,224" (or several, for several inputs) -> [(1, 3, 224, 224)]."""
    out = []
    for text in [texts] if isinstance(texts, str) else texts:
        try:
            shape = tuple(int(x) for x in re.split(r"[,x]", text.strip()) if x)
        except ValueError:
            raise TaskError(f"input shape {text!r} is not a list of integers such as 1,3,224,224") from None
        if not shape or any(d < 1 for d in shape):
            raise TaskError(f"input shape {text!r} must list positive sizes, such as 1,3,224,224")
        out.append(shape)
    return out


def load_model(spec: str) -> tuple[Any, str, list[tuple[int, ...]] | None]:
    """(nn.Module in eval mode, short name, default input shapes or None)."""
    from torch import nn

    if spec in BUILTIN_MODELS:
        factory, shapes = BUILTIN_MODELS[spec]
        return factory(), spec, shapes
    if not is_file_spec(spec):
        raise TaskError(
            f"unknown model {spec!r}; built-in models are {', '.join(BUILTIN_MODELS)}, "
            "or give path/to/file.py:NAME (an nn.Module or a zero-argument callable returning one)"
        )
    model, origin = load_attr(spec, "model")
    if not isinstance(model, nn.Module):
        raise TaskError(
            f"{origin}: expected a torch.nn.Module (or a zero-argument callable returning one), "
            f"found {type(model).__module__}.{type(model).__qualname__}"
        )
    return model.eval(), spec.rpartition(":")[2], None


def import_model(
    spec: str, shapes: "list[tuple[int, ...]] | None" = None, dtype: str = "float32", target: Any = None
) -> list[ModelTask]:
    """The tuning tasks of a model, most frequent first."""
    key = tuple(tuple(s) for s in shapes) if shapes else None
    return list(_import(spec, key, dtype, None if target is None else str(target)))


@dataclasses.dataclass(frozen=True)
class ModelProgram:
    """A model, example inputs and its fused Relax program (what tasks come from and what compiles)."""

    name: str
    model: Any
    inputs: tuple
    shape_text: str
    mod: tvm.IRModule  # Relax, decomposed for inference: what compile_relax compiles (it legalizes and fuses)
    fused: tvm.IRModule  # legalized and fused, as compile_relax will: what tasks are extracted from


@functools.lru_cache(maxsize=16)
def relax_program(spec: str, shapes: "tuple | None" = None, dtype: str = "float32") -> ModelProgram:
    import torch

    model, name, default_shapes = load_model(spec)
    shapes = list(shapes or default_shapes or [])
    if not shapes:
        raise TaskError(f"model {spec!r}: give its input shape(s), e.g. --input-shape 1,3,224,224")
    generator = torch.Generator().manual_seed(0)
    inputs = tuple(torch.randn(*s, generator=generator).to(getattr(torch, dtype)) for s in shapes)
    shape_text = ";".join("x".join(map(str, s)) for s in shapes)
    with torch.no_grad():
        try:
            model(*inputs)
        except Exception as err:
            raise TaskError(
                f"model {name} fails on input shape(s) {shape_text} ({dtype}): {_first_line(err)}; "
                "give --input-shape values its first layer accepts"
            ) from err
        try:
            exported = torch.export.export(model, inputs)
        except Exception as err:
            raise TaskError(
                f"torch.export could not trace model {name}: {_first_line(err)}; make forward() "
                "traceable (no data-dependent Python control flow, no unsupported Python objects)"
            ) from err
    mod = _to_relax(exported, name)
    return ModelProgram(name, model, inputs, shape_text, mod, _fuse(mod))


@functools.lru_cache(maxsize=16)
def _import(spec: str, shapes: "tuple | None", dtype: str, target_str: "str | None") -> tuple[ModelTask, ...]:
    program = relax_program(spec, shapes, dtype)
    target = make_target(target_str)  # the same target msgym builds every task for
    load_tensor_intrinsics()
    extracted = ms.relax_integration.extract_tasks(program.fused, target)
    # Which parameters of each fused operator the model feeds with constants (its weights): what
    # TVM's weight-prepacking flow marks layout-free, and the extended space may pack.
    from tvm import relax

    marked = ms.relax_integration.extract_tasks(relax.transform.AttachAttrLayoutFreeBuffers()(program.fused), target)
    constants = {}  # by the function without the mark (the pass renames functions it copies)
    for t in marked:
        func = t.dispatched[0]["main"]
        free = (func.attrs or {}).get("layout_free_buffers", ())
        constants[structural_key(tvm.IRModule({"main": func.without_attr("layout_free_buffers")}))] = tuple(
            int(i) for i in free
        )
    out = []
    for t in sorted(extracted, key=lambda t: -int(t.weight)):
        task_spec = f"torch:{spec}@{program.shape_text}/{t.task_name}"
        out.append(
            ModelTask(
                Task(
                    name=f"{program.name}/{t.task_name}",
                    mod=t.dispatched[0],
                    target=target,
                    spec=task_spec,
                    constants=constants.get(structural_key(t.dispatched[0]), ()),
                ),
                int(t.weight),
                t.task_name,
            )
        )
    return tuple(out)


def _to_relax(exported: Any, name: str) -> tvm.IRModule:
    from tvm import relax
    from tvm.relax.frontend.torch import from_exported_program

    try:
        mod = from_exported_program(exported)
    except Exception as err:
        found = re.search(r"Unsupported function types \[(.*?)\]", str(err))
        ops = re.findall(r"'([^']+)'", found.group(1)) if found else []
        what = f"unsupported operator(s) {', '.join(f'aten.{op}' for op in ops)}" if ops else _first_line(err)
        raise TaskError(
            f"TVM's PyTorch frontend cannot convert model {name}: {what}; replace them in the model "
            "or register a converter (tvm.relax.frontend.torch custom_convert_map)"
        ) from err
    return relax.transform.DecomposeOpsForInference()(mod)


def _fuse(mod: tvm.IRModule) -> tvm.IRModule:
    """The passes compile_relax runs before it applies a tuning database, so that the tasks
    extracted here are the functions it looks up."""
    from tvm import relax

    return tvm.transform.Sequential(
        [
            relax.transform.LegalizeOps(),
            relax.transform.AnnotateTIROpPattern(),
            relax.transform.FoldConstant(),
            relax.transform.FuseOps(),
            relax.transform.FuseTIR(),
        ]
    )(mod)


def task_from_spec(spec: str, target: Any = None) -> Task:
    """``torch:MODEL@SHAPES/OPERATOR`` -> that task (what ``get_task`` calls)."""
    body = spec[len("torch:") :]
    model_part, _, operator = body.rpartition("/")
    model_spec, _, shape_text = model_part.rpartition("@")
    if not model_spec or not operator:
        raise TaskError(f"task {spec!r}: expected torch:MODEL@SHAPES/OPERATOR (see msgym tasks --from-torch)")
    shapes = parse_shapes(shape_text.split(";"))
    tasks = import_model(model_spec, shapes, target=target)
    for mt in tasks:
        if mt.operator == operator:
            return mt.task
    raise TaskError(
        f"task {spec!r}: model {model_spec} has no operator {operator!r}; it has "
        f"{', '.join(mt.operator for mt in tasks)}"
    )


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else ''}"
