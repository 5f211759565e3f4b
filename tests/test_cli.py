"""The msgym command as a user runs it."""

import subprocess
import sys


def msgym(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "msgym.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_tasks_lists_flops_and_space_size():
    out = msgym("tasks", "gmm-64", "sfm-64")
    assert out.returncode == 0, out.stderr
    assert "gmm-64" in out.stdout and "design-space size" in out.stdout and "0.52" in out.stdout


def test_tune_prints_the_best_kernel(tmp_path):
    out = msgym("tune", "--task", "gmm-64", "--trials", "3", "--logdir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "best of 3 trials" in out.stdout and "GFLOPS" in out.stdout and "T.prim_func" in out.stdout


def test_unknown_task_is_a_clear_error():
    out = msgym("tune", "--task", "nope", "--trials", "1")
    assert out.returncode == 2
    assert "unknown task 'nope'" in out.stderr and "gmm-512" in out.stderr
    assert "Traceback" not in out.stderr


def test_zero_trials_and_unknown_agent_are_clear_errors():
    out = msgym("tune", "--task", "gmm-64", "--trials", "0")
    assert out.returncode == 2 and "positive integer" in out.stderr
    out = msgym("tune", "--task", "gmm-64", "--agent", "genius")
    assert out.returncode == 2 and "unknown agent" in out.stderr


def test_bench_writes_json_leaderboard_and_plot(tmp_path):
    import json

    out_json = tmp_path / "bench.json"
    out = msgym("bench", "--tasks", "gmm-64", "--agents", "random,evolutionary", "--trials", "3", "--seeds", "2",
                "--logdir", str(tmp_path / "runs"), "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    data = json.loads(out_json.read_text())
    assert len(data["runs"]) == 4
    for run in data["runs"]:
        assert run["trials"] == 3 and len(run["curve_best_latency_s"]) == 3 and run["best_gflops"] > 0
        assert {"task", "agent", "seed", "best_latency_s", "wall_s", "errors", "curve_wall_s"} <= set(run)
    board = (tmp_path / "bench.md").read_text()
    assert "## gmm-64" in board and "evolutionary" in board and "random" in board
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_bad_inputs_fail_before_measuring(tmp_path):
    out = msgym("bench", "--tasks", "gmm-64", "--agents", "genius", "--json", str(tmp_path / "x.json"))
    assert out.returncode == 2 and "unknown agent 'genius'" in out.stderr
    out = msgym("bench", "--tasks", "nope", "--json", str(tmp_path / "x.json"))
    assert out.returncode == 2 and "unknown task 'nope'" in out.stderr
    out = msgym("bench", "--tasks", "gmm-64", "--trials", "0", "--json", str(tmp_path / "x.json"))
    assert out.returncode == 2 and "positive integer" in out.stderr
    assert not (tmp_path / "x.json").exists()
