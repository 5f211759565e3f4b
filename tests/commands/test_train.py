"""Training one policy across tasks, resuming it, and evaluating it on an unseen task."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from msgym.commands import evaluate
from msgym.commands.train import train
from msgym.policies import ENCODING, check_policy
from msgym.search import create, tune
from msgym.tasks import TaskError

TINY = {"n_steps": 32, "batch_size": 32, "checkpoint_every": 64}


def test_predicted_then_measured_training_gives_a_policy_for_an_unseen_task(tmp_path, mlp_path, fake_measurer):
    measurer = fake_measurer
    pre = train(
        "tiny-train",
        96,
        reward="predicted",
        cost_model=str(mlp_path),
        logdir=str(tmp_path),
        overrides=TINY,
        progress=False,
    )
    assert pre["timesteps"] >= 96 and pre["encoding"] == ENCODING and "predicted" in pre["run_dir"]
    final = train(
        "tiny-train",
        64,
        reward="measured",
        logdir=str(tmp_path),
        init=pre["policy"],
        overrides=TINY,
        progress=False,
        save=str(tmp_path / "final.zip"),
        runner="fake",
    )
    meta = json.loads((tmp_path / "final.json").read_text())
    assert meta["reward"] == "measured" and meta["init"] == pre["policy"] and meta["tasks"] == ["gmm-64", "sfm-64"]
    assert {"command", "machine", "date"} <= set(meta)
    assert check_policy(final["policy"])["encoding"] == ENCODING

    result = tune(
        "nrm",
        "ppo-pretrained",
        trials=3,
        seed=0,
        progress=False,
        measurer=measurer,
        agent_options={"policy": final["policy"], "learn": False},
    )
    assert result.trials == 3 and result.best is not None  # valid candidates, measured


def test_an_interrupted_run_resumes_its_step_count(tmp_path, mlp_path):
    cmd = [
        sys.executable,
        "-m",
        "msgym.cli",
        "train",
        "--tasks",
        "tiny-train",
        "--timesteps",
        "4000",
        "--reward",
        "predicted",
        "--cost-model",
        str(mlp_path),
        "--logdir",
        str(tmp_path),
        "--hp",
        "n_steps=32",
        "--hp",
        "batch_size=32",
        "--hp",
        "checkpoint_every=32",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 300
        while not list(tmp_path.glob("train__*/checkpoints/ppo_*_steps.zip")) and time.time() < deadline:
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    run_dir = next(tmp_path.glob("train__*"))
    steps = max(int(p.stem.split("_")[1]) for p in (run_dir / "checkpoints").glob("ppo_*_steps.zip"))
    out = train(
        "tiny-train",
        steps + 64,
        reward="predicted",
        cost_model=str(mlp_path),
        resume=str(run_dir),
        overrides=TINY,
        progress=False,
    )
    assert out["timesteps"] >= steps + 64 and out["run_dir"] == str(run_dir)
    assert (run_dir / f"checkpoints/ppo_{steps + 64}_steps.zip").exists() or out["timesteps"] < steps + 128


def test_bad_inputs(tmp_path, mlp_path):
    with pytest.raises(TaskError, match="no tasks in"):
        train("", 10)
    with pytest.raises(ValueError, match="needs --cost-model"):
        train("tiny-train", 10, reward="predicted")
    with pytest.raises(ValueError, match="unknown hyperparameters \\['n_stepz'\\]"):
        train("tiny-train", 10, overrides={"n_stepz": 3})
    with pytest.raises(ValueError, match="nothing to resume"):
        train("tiny-train", 10, resume=str(tmp_path))
    with pytest.raises(ValueError, match="no saved policy"):
        create("ppo", policy=str(tmp_path / "missing.zip"))
    old = tmp_path / "old.zip"
    old.write_bytes(b"PK")
    old.with_suffix(".json").write_text(json.dumps({"encoding": "features-v0/100+10", "n_actions": 32}))
    with pytest.raises(ValueError, match="trained with observation encoding features-v0.*retrain"):
        create("ppo-pretrained", policy=str(old))


def test_eval_compares_the_policy_with_other_agents_and_a_reference(tmp_path, mlp_path, fake_measurer):
    pre = train(
        "tiny-train",
        64,
        reward="predicted",
        cost_model=str(mlp_path),
        logdir=str(tmp_path),
        overrides=TINY,
        progress=False,
    )
    out = evaluate.run(
        pre["policy"],
        "tiny-test",
        trials=3,
        seeds=1,
        logdir=None,
        json_path=str(tmp_path / "e.json"),
        measurer=fake_measurer,
        reference_trials=4,
        agents=["ppo-pretrained", "random"],
        progress=False,
        agent_options={"random": {"cost_model": "none"}},
    )
    assert out["agent_options"] == {"random": {"cost_model": "none"}, "ppo-pretrained": {"policy": pre["policy"]}}
    row = out["summary"]["nrm"]["ppo-pretrained"]
    assert row["gflops_at_1"] > 0 and row["gflops_at_3"] >= row["gflops_at_1"]
    assert len(row["trials_to_1.1x_reference"]) == 1
    assert out["references"]["nrm"]["trials"] == 4
    assert "| ppo-pretrained |" in (tmp_path / "e.md").read_text()


def test_init_applies_this_runs_hyperparameters(tmp_path, mlp_path):
    from sb3_contrib import MaskablePPO

    pre = train(
        "tiny-train",
        64,
        reward="predicted",
        cost_model=str(mlp_path),
        logdir=str(tmp_path),
        overrides=TINY,
        progress=False,
    )
    out = train(
        "tiny-train",
        16,
        reward="predicted",
        cost_model=str(mlp_path),
        logdir=str(tmp_path),
        init=pre["policy"],
        overrides={**TINY, "n_steps": 16, "batch_size": 16},
        progress=False,
        save=str(tmp_path / "b.zip"),
    )
    assert MaskablePPO.load(out["policy"], device="cpu").n_steps == 16


def test_a_non_editable_install_finds_its_default_config(tmp_path):
    """After a plain ``pip install .`` (no checkout beside it), ``msgym train`` finds its shipped config."""
    import shutil
    from pathlib import Path

    root, source, target = Path(__file__).resolve().parents[2], tmp_path / "source", tmp_path / "site"
    for part in ("msgym", "agents"):  # a copy: the build leaves nothing in the checkout
        shutil.copytree(root / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(root / part, source / part)
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = tmp_path / "elsewhere"
    where.mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "msgym.cli", "train", "--help"],
        capture_output=True,
        text=True,
        cwd=where,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0 and "shipped with msgym" in out.stdout, out.stderr
    probe = (
        "import msgym, msgym.commands.train as t; print(msgym.__file__); print(t.CONFIG); "
        "print(t.hyperparameters('measured')['n_steps'])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=where, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    module, config, n_steps = out.stdout.split()
    assert module.startswith(str(target)) and config.startswith(str(target)) and int(n_steps) > 0
    # The shipped dataset and the cost model pretrained on it come with the package too.
    probe = (
        "from msgym.cost_models import create, dataset; from msgym.cost_models.base import PRETRAINED; "
        "create('pretrained'); print(PRETRAINED); print(len(dataset.load()))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=where, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    pretrained, rows = out.stdout.split()
    assert pretrained.startswith(str(target)) and int(rows) > 0
