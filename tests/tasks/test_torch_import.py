"""Tasks from PyTorch models: import, weights, tuning a model's task, and clear errors."""

from pathlib import Path

import pytest
from conftest import DATA

from msgym.search import tune
from msgym.tasks import TaskError, get_task
from msgym.tasks.torch_import import import_model, parse_shapes, relax_program

MODELS = f"{DATA / 'models.py'}"


def test_a_tiny_model_yields_its_fused_operators_with_weights(measurer):
    tasks = import_model(f"{MODELS}:two_layers", [(4, 16)])
    assert [(t.operator, t.weight) for t in tasks] == [("fused_matmul_add_relu", 2)]
    task = tasks[0].task
    assert task.name == "two_layers/fused_matmul_add_relu"
    assert get_task(task.spec) is task  # the spec recreates it anywhere a task string goes
    result = tune(task.spec, "random", trials=2, seed=0, progress=False, measurer=measurer)
    assert result.best is not None and result.errors == 0  # built, checked against the reference, timed


def test_builtin_models_import():
    ops = {t.operator: t.weight for t in import_model("resnet-block")}
    assert any(op.startswith("fused_conv2d") and weight == 2 for op, weight in ops.items())


@pytest.mark.parametrize(
    "name, shape, message",
    [
        ("data_dependent", (4, 16), "torch.export could not trace model data_dependent.*control flow"),
        ("unconvertible", (4, 4), "cannot convert model unconvertible: unsupported operator\\(s\\) aten.erfinv"),
        ("two_layers", (4, 3), "fails on input shape\\(s\\) 4x3.*--input-shape"),
        ("not_a_model", (1,), "expected a torch.nn.Module"),
    ],
)
def test_bad_models_and_shapes_are_clear_errors(name, shape, message):
    with pytest.raises(TaskError, match=message):
        import_model(f"{MODELS}:{name}", [shape])


def test_bad_arguments():
    with pytest.raises(TaskError, match="unknown model 'resnet'.*resnet-block"):
        import_model("resnet")
    with pytest.raises(TaskError, match="not a list of integers"):
        parse_shapes("1,three")
    with pytest.raises(TaskError, match="give its input shape"):
        import_model(f"{MODELS}:two_layers")
    with pytest.raises(TaskError, match="has no operator 'conv'.*fused_matmul_add_relu"):
        get_task(f"torch:{MODELS}:two_layers@4x16/conv")


def test_whole_model_tuning_compiles_a_model_that_matches_pytorch(measurer):
    from msgym.commands.tune_model import tune_model

    out = tune_model(
        f"{MODELS}:two_layers", measurer, [(4, 16)], agent="random", trials=4, batch=2, progress=False, verify_rounds=2
    )
    # Each compiled build's output was checked against PyTorch's before it was timed (2 interleaved passes).
    for name in ("tvm_msgym", "tvm_untuned", "pytorch_eager"):
        low, high = out[f"{name}_ci95"]
        assert 0 < low <= out[f"{name}_s"] <= high
    assert out["tasks"][0]["trials"] == 4 and out["tasks"][0]["best_latency_s"] > 0
    assert out["tasks"][0]["verified_latency_s"] > 0  # its best few re-timed
    speedup = out["pytorch_eager_s"] / out["tvm_msgym_s"]
    assert out["fast_p"]["pytorch_eager"] == {
        "fast_1.0": float(speedup >= 1.0),
        "fast_0.8": float(speedup >= 0.8),
        "tasks": 1,
        "speedup": speedup,
    }
    with pytest.raises(ValueError, match="positive integer"):
        tune_model(f"{MODELS}:two_layers", measurer, [(4, 16)], trials=0)
    with pytest.raises(ValueError, match="max_trials_per_task must be a positive integer"):
        tune_model(f"{MODELS}:two_layers", measurer, [(4, 16)], trials=4, max_trials_per_task=0)


def test_no_model_task_gets_more_trials_than_its_cap(measurer, tmp_path):
    import tempfile

    from msgym._tvm import make_target
    from msgym.commands.tune_model import compile_model, tune_model

    scratch = set(Path(tempfile.gettempdir()).glob("msgym-model-*"))
    out = tune_model(
        f"{MODELS}:two_layers", measurer, [(4, 16)], "random", 8, batch=2, progress=False, max_trials_per_task=3
    )
    tuned = [t["trials"] for t in out["tasks"] if t["trials"]]
    assert tuned and max(tuned) == 3 and out["max_trials_per_task"] == 3
    assert out["database"] is None and set(Path(tempfile.gettempdir()).glob("msgym-model-*")) == scratch

    # Given a work_dir, the tuned database stays there, and it builds the model.
    kept = tune_model(
        f"{MODELS}:two_layers", measurer, [(4, 16)], "random", 2, batch=2, progress=False, work_dir=tmp_path
    )
    assert kept["database"] == str(tmp_path / "msgym_db") and any((tmp_path / "msgym_db").iterdir())
    assert compile_model(
        Path(kept["database"]), relax_program(f"{MODELS}:two_layers", ((4, 16),)).mod, make_target(None)
    )


@pytest.mark.hardware
def test_packed_weights_are_packed_at_compile_time_and_the_model_still_matches_pytorch(tmp_path):
    """The extended space's packed kernel of a model task: compiled the way a deployed model is
    (weights marked layout-free, the packing copy split off and folded into the constants), the
    kernel reads constants already packed, and the model's output is PyTorch's."""
    import random

    from msgym._tvm import ms, tvm
    from msgym.commands import tune_model as tm
    from msgym.extended_space import packed_module
    from msgym.search.database import write_database
    from msgym.space import design_spaces

    spec = f"{MODELS}:two_layers"
    [mt] = import_model(spec, [(4, 16)])
    assert mt.task.constants == (1, 2)  # the Linear's weight and bias
    task = get_task(mt.task, space="extended")
    spaces = design_spaces(task)
    space, decisions = spaces.sample(random.Random(0), space=spaces.space_mods.index(spaces.space_mods[-1]))
    assert "layout_rewrite_preproc" in spaces.program_mod(space, decisions).script()
    write_database(task, tmp_path / "db", [(space, decisions, 1e-6)], packed_module(task))
    program = relax_program(spec, ((4, 16),))
    executable = tm.compile_model(tmp_path / "db", program.mod, task.target, prepack=True)
    tm._relax_timer(executable, program, tm._torch_output(program), "prepacked")  # raises unless PyTorch's output
    with task.target, ms.database.JSONDatabase(work_dir=str(tmp_path / "db")), tvm.transform.PassContext(opt_level=3):
        main = tvm.transform.Sequential(tm.prepack_passes())(program.mod)["main"].script()
    assert "_prepacked, (input," in main and "weight_prepack" not in main  # the copy ran at compile time
