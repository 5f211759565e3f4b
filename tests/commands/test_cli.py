"""The msgym command as a user runs it (``--runner fake`` except in the ``hardware`` tests)."""

import contextlib
import io
import json
import subprocess

import pytest
import tvm_ffi

from msgym.cli import main

FAKE = ("--runner", "fake")


def msgym(*args):
    """Run the command in this process (as ``msgym ARGS`` would run): its exit code and output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit:  # argparse's own errors
            code = exit.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_tasks_lists_flops_and_both_space_sizes():
    out = msgym("tasks", "gmm-64", "sfm-64")
    assert out.returncode == 0, out.stderr
    assert "gmm-64" in out.stdout and "default size" in out.stdout and "extended size" in out.stdout
    gmm = next(line.split() for line in out.stdout.splitlines() if line.startswith("gmm-64"))
    # packed? x 4 parallel x 4 vector x 3 inner orders
    assert gmm[1] == "0.52" and float(gmm[4]) == pytest.approx(96 * float(gmm[3]), rel=0.01)


def test_tasks_lists_a_set_and_suite_shapes():
    out = msgym("tasks", "--set", "tiny-test")
    assert out.returncode == 0, out.stderr
    assert "nrm" in out.stdout and "gmm-64" not in out.stdout
    out = msgym("tasks", "GMM/0")
    assert out.returncode == 0 and "batch_matmul_nkkm(1, 128, 128, 128)" in out.stdout, out.stderr
    out = msgym("tasks", "GMM/7")
    assert out.returncode == 2 and "operator GMM has shapes 0..3" in out.stderr


@pytest.mark.parametrize("runner", [pytest.param("local", marks=pytest.mark.hardware), "fake"])
def test_tune_prints_the_best_kernel(tmp_path, runner):
    out = msgym("tune", "--task", "gmm-64", "--trials", "3", "--logdir", str(tmp_path), "--runner", runner)
    assert out.returncode == 0, out.stderr
    assert "best of 3 trials" in out.stdout and "GFLOPS" in out.stdout and "T.prim_func" in out.stdout


def test_unknown_task_is_a_clear_error():
    out = msgym("tune", "--task", "nope", "--trials", "1", *FAKE)
    assert out.returncode == 2
    assert "unknown task 'nope'" in out.stderr and "gmm-512" in out.stderr
    assert "Traceback" not in out.stderr


def test_zero_trials_and_unknown_agent_are_clear_errors():
    out = msgym("tune", "--task", "gmm-64", "--trials", "0", *FAKE)
    assert out.returncode == 2 and "positive integer" in out.stderr
    out = msgym("tune", "--task", "gmm-64", "--agent", "genius", *FAKE)
    assert out.returncode == 2 and "unknown agent" in out.stderr


def test_tune_takes_a_build_limit_or_off(tmp_path, monkeypatch):
    from msgym import search

    seen = []
    real = search.tune
    monkeypatch.setattr(search, "tune", lambda *a, **kw: seen.append(kw["build_limit"]) or real(*a, **kw))
    for given, passed in [(None, 20.0), ("off", None), ("5", 5.0)]:
        limit = () if given is None else ("--build-limit", given)
        args = ("--agent", "random", "--trials", 2, "--logdir", tmp_path, "--no-show", *limit, *FAKE)
        out = msgym("tune", "--task", "gmm-64", *args)
        assert out.returncode == 0, out.stderr
        assert seen[-1] == passed
    out = msgym("tune", "--task", "gmm-64", "--build-limit", "0.5", *FAKE)
    assert out.returncode == 2 and "--build-limit" in out.stderr and "factor >= 1" in out.stderr


@pytest.mark.parametrize("runner", [pytest.param("local", marks=pytest.mark.hardware), "fake"])
def test_bench_writes_json_leaderboard_and_plot(tmp_path, runner):
    out_json = tmp_path / "bench.json"
    agents = ["random", "evolutionary", "ppo", "metaschedule"]
    out = msgym(
        "bench",
        "--tasks",
        "gmm-64",
        "--agents",
        ",".join(agents),
        "--trials",
        "3",
        "--seeds",
        "1",
        "--agent-opt",
        "metaschedule.population_size=64",
        "--agent-opt",
        "ppo.n_steps=16",
        "--logdir",
        str(tmp_path / "runs"),
        "--json",
        str(out_json),
        "--runner",
        runner,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out_json.read_text())
    assert sorted(r["agent"] for r in data["runs"]) == sorted(agents)
    assert data["agent_options"] == {"metaschedule": {"population_size": 64}, "ppo": {"n_steps": 16}}
    for run in data["runs"]:
        assert run["trials"] == 3 and len(run["curve_best_latency_s"]) == 3 and run["best_gflops"] > 0
        assert {"task", "agent", "seed", "best_latency_s", "wall_s", "errors", "curve_wall_s"} <= set(run)
        assert 0 < run["propose_s"] and 0 < run["measure_s"] and run["propose_s"] + run["measure_s"] < run["wall_s"]
        assert run["verified_gflops"] > 0 and run["verified_rounds"] == 3  # its best re-timed at the end
        assert 1 <= len(run["top_candidates"]) <= 3
    for agent in agents:  # the statistics over seeds (one seed here: a zero-width interval)
        row = data["summary"]["gmm-64"][agent]
        assert row["gflops_ci95"][0] <= row["gflops_mean"] <= row["gflops_ci95"][1] and row["seeds"] == 1
    assert set(data["geomean"]) == set(agents)
    board = (tmp_path / "bench.md").read_text()
    assert "## gmm-64" in board and all(agent in board for agent in agents)
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Run again with one more seed: the finished runs are kept, only the new ones are run.
    out = msgym(
        "bench",
        "--tasks",
        "gmm-64",
        "--agents",
        "random",
        "--trials",
        "3",
        "--seeds",
        "2",
        "--logdir",
        str(tmp_path / "runs"),
        "--json",
        str(out_json),
        "--runner",
        runner,
    )
    assert out.returncode == 0, out.stderr
    seeds = [r["seed"] for r in json.loads(out_json.read_text())["runs"]]
    assert seeds == [0, 1] and len(list((tmp_path / "runs").glob("gmm-64__random__*"))) == 2


def test_bench_bad_inputs_fail_before_measuring(tmp_path):
    out = msgym("bench", "--tasks", "gmm-64", "--agents", "genius", "--json", str(tmp_path / "x.json"), *FAKE)
    assert out.returncode == 2 and "unknown agent 'genius'" in out.stderr
    out = msgym("bench", "--tasks", "nope", "--json", str(tmp_path / "x.json"), *FAKE)
    assert out.returncode == 2 and "unknown task 'nope'" in out.stderr
    out = msgym("bench", "--tasks", "gmm-64", "--trials", "0", "--json", str(tmp_path / "x.json"), *FAKE)
    assert out.returncode == 2 and "positive integer" in out.stderr
    out = msgym(
        "bench",
        "--tasks",
        "gmm-64",
        "--agents",
        "random",
        "--agent-opt",
        "random.speed=9",
        "--json",
        str(tmp_path / "x.json"),
        *FAKE,
    )
    assert out.returncode == 2 and "its options are: max_attempts" in out.stderr
    out = msgym(
        "bench",
        "--tasks",
        "gmm-64",
        "--agents",
        "random",
        "--agent-opt",
        "ppo.n_steps=8",
        "--json",
        str(tmp_path / "x.json"),
        *FAKE,
    )
    assert out.returncode == 2 and "not among --agents" in out.stderr
    assert not (tmp_path / "x.json").exists()


def test_a_resumed_bench_loses_no_run_and_mixes_no_settings(tmp_path):
    """A bench JSON is resumed, never silently overwritten: another trial budget, design space or
    agent options is an error that leaves the file as it was; a call asking for fewer runs keeps the
    others in the file (``other_runs``), and a later call asking for them again reuses them."""
    out_json, runs = tmp_path / "b.json", tmp_path / "runs"

    def bench(*args, agents="random,evolutionary"):
        base = ("bench", "--tasks", "gmm-64", "--seeds", "1", "--verify-rounds", "1", "--no-fast-p")
        return msgym(*base, "--agents", agents, "--logdir", runs, "--json", out_json, *FAKE, *args)

    out = bench("--trials", "2")
    assert out.returncode == 0, out.stderr
    first = out_json.read_text()
    for args, named in [
        (("--trials", "3"), "trials 2 (this call: 3)"),
        (("--trials", "2", "--space", "extended"), "space 'default' (this call: 'extended')"),
        (("--trials", "2", "--agent-opt", "random.max_attempts=7"), "random {} (this call: {'max_attempts': 7})"),
    ]:
        out = bench(*args)
        assert out.returncode == 2 and named in out.stderr and "pick another --json" in out.stderr, out.stderr
        assert out_json.read_text() == first

    out = bench("--trials", "2", agents="random")  # fewer runs than the file holds
    assert out.returncode == 0, out.stderr
    data = json.loads(out_json.read_text())
    assert [r["agent"] for r in data["runs"]] == ["random"] and list(data["summary"]["gmm-64"]) == ["random"]
    assert [r["agent"] for r in data["other_runs"]] == ["evolutionary"]
    out = bench("--trials", "2")  # all of them again: nothing is run twice
    assert out.returncode == 0, out.stderr
    data = json.loads(out_json.read_text())
    assert sorted(r["agent"] for r in data["runs"]) == ["evolutionary", "random"] and "other_runs" not in data
    assert len(list(runs.glob("gmm-64__*"))) == 2


def test_a_runs_best_exports_to_a_tvm_database_that_compiles(tmp_path):
    out = msgym(
        "tune",
        "--task",
        "gmm-64",
        "--trials",
        "2",
        "--agent",
        "evolutionary",
        "--agent-opt",
        "population=2",
        "--logdir",
        str(tmp_path / "runs"),
        "--no-show",
        *FAKE,
    )
    assert out.returncode == 0, out.stderr
    run = next((tmp_path / "runs").iterdir())
    assert '"population": 2' in (run / "config.json").read_text()
    out = msgym("export", str(run), "--database", str(tmp_path / "db"))
    assert out.returncode == 0, out.stderr
    assert "compile_tir" in out.stdout

    from msgym._tvm import ms
    from msgym.envs.records import EpisodeRecord
    from msgym.tasks import get_task

    best = EpisodeRecord.from_json(json.loads((run / "best.json").read_text()))
    task = get_task("gmm-64")
    db = ms.database.JSONDatabase(work_dir=str(tmp_path / "db"))
    assert len(db.get_all_tuning_records()) == 1
    sch = ms.tir_integration.compile_tir(db, task.mod, task.target)
    assert sch is not None and tvm_ffi.structural_equal(sch.mod, best.replay().mod)

    out = msgym("export", str(tmp_path), "--database", str(tmp_path / "db2"))
    assert out.returncode == 2 and "best.json not found" in out.stderr


def test_agent_options_must_be_key_value():
    out = msgym("tune", "--task", "gmm-64", "--agent-opt", "population", *FAKE)
    assert out.returncode == 2 and "KEY=VALUE" in out.stderr


def test_collect_then_train_and_evaluate_cost_models(tmp_path, monkeypatch):
    monkeypatch.setenv("MSGYM_CACHE_DIR", str(tmp_path / "cache"))  # a store of its own: starts empty

    def run(*args):
        return msgym(*args, *FAKE)

    out = run("costmodel", "eval", "--train", "gmm-64", "--test", "sfm-64", "--json", str(tmp_path / "cm.json"))
    assert out.returncode == 2 and "at least 2 successful measurements" in out.stderr and "msgym collect" in out.stderr
    out = run("collect", "--tasks", "gmm-64,sfm-64", "--per-task", "8")
    assert out.returncode == 0, out.stderr
    assert "gmm-64: 8 successful measurements stored (8 new)" in out.stdout
    out = run("collect", "--tasks", "gmm-64", "--per-task", "8")  # resumes: nothing new to measure
    assert out.returncode == 0 and "(0 new)" in out.stdout, out.stderr
    out = run("costmodel", "eval", "--train", "gmm-64", "--test", "sfm-64", "--json", str(tmp_path / "cm.json"))
    assert out.returncode == 0, out.stderr
    figures = json.loads((tmp_path / "cm.json").read_text())
    for key in ("mlp_top1", "xgb_top1", "mlp_pairwise", "xgb_pairwise", "mlp_predictions_per_s"):
        assert isinstance(figures[key], float), key
    assert figures["test_tasks"] == ["sfm-64"] and 0 < figures["mlp_top1"] <= 1
    out = run("costmodel", "train", "--train", "gmm-64,sfm-64", "--save", str(tmp_path / "mlp.pt"))
    assert out.returncode == 0 and (tmp_path / "mlp.pt").is_file(), out.stderr
    out = run(
        "tune",
        "--task",
        "gmm-64",
        "--agent",
        "random",
        "--trials",
        "2",
        "--no-show",
        "--agent-opt",
        f"cost_model={tmp_path / 'mlp.pt'}",
    )
    assert out.returncode == 0, out.stderr


def test_every_tasks_option_takes_a_set_name(tmp_path):
    """``--tasks`` takes a set name, a file or T1,T2 wherever it appears (bench split on commas)."""
    out = msgym(
        "bench",
        "--tasks",
        "tiny-train",
        "--agents",
        "random",
        "--trials",
        "2",
        "--seeds",
        "1",
        "--logdir",
        str(tmp_path / "runs"),
        "--json",
        str(tmp_path / "b.json"),
        *FAKE,
    )
    assert out.returncode == 0, out.stderr
    assert sorted({r["task"] for r in json.loads((tmp_path / "b.json").read_text())["runs"]}) == ["gmm-64", "sfm-64"]
    listing = tmp_path / "tasks.txt"
    listing.write_text("# two tasks\ngmm-64\nsfm-64  # small\n")
    out = msgym("collect", "--tasks", str(listing), "--per-task", "2", *FAKE)
    assert out.returncode == 0 and "gmm-64:" in out.stdout and "sfm-64:" in out.stdout, out.stderr


def test_a_bad_runner_is_a_clear_error():
    out = msgym("tune", "--task", "gmm-64", "--runner", "gpu-please")
    assert out.returncode == 2 and "does not parse" in out.stderr and "fake" in out.stderr


def test_export_does_not_import_a_file_a_run_folder_names(tmp_path):
    from conftest import ODD_MATMUL

    out = msgym("tune", "--task", ODD_MATMUL, "--trials", "2", "--logdir", tmp_path / "runs", "--no-show", *FAKE)
    assert out.returncode == 0, out.stderr
    run = next((tmp_path / "runs").iterdir())
    out = msgym("export", run, "--database", tmp_path / "db")
    assert out.returncode == 2 and "names a Python file, which loading would run" in out.stderr
    assert "--task" in out.stderr and not (tmp_path / "db").exists()
    out = msgym("export", run, "--database", tmp_path / "db", "--task", ODD_MATMUL)
    assert out.returncode == 0, out.stderr


def test_an_unusable_cache_folder_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("MSGYM_CACHE_DIR", str(tmp_path / "file"))
    (tmp_path / "file").write_text("")
    out = msgym("tune", "--task", "gmm-64", "--trials", "1", *FAKE)
    assert out.returncode == 2 and "is a file, not a folder" in out.stderr and "Traceback" not in out.stderr
