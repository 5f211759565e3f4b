"""The bench's statistics and leaderboard on fixed runs (no measurement)."""

from msgym.commands.bench import leaderboard, summarize


def _run(task, agent, seed, gflops):
    return {
        "task": task,
        "agent": agent,
        "seed": seed,
        "trials": 2,
        "best_latency_s": 1e-3,
        "best_gflops": gflops,
        "wall_s": 1.0,
        "errors": 0,
        "curve_best_latency_s": [1e-3, 1e-3],
        "curve_wall_s": [0.5, 1.0],
        "flops": gflops * 1e6,
    }


def test_summary_intervals_and_separation_marks():
    runs = [_run("t1", "good", s, g) for s, g in enumerate([10.0, 10.5, 11.0])]
    runs += [_run("t1", "bad", s, g) for s, g in enumerate([5.0, 5.5, 6.0])]
    runs += [_run("t1", "close", s, g) for s, g in enumerate([5.2, 5.6, 6.1])]
    out = {"trials": 2, "seeds": 3, "agents": ["good", "bad", "close"], "runs": runs}
    stats = summarize(out)
    good = stats["summary"]["t1"]["good"]
    assert good["gflops_mean"] == 10.5 and good["seeds"] == 3
    assert 10.0 <= good["gflops_ci95"][0] < 10.5 < good["gflops_ci95"][1] <= 11.0
    assert stats["geomean"]["good"]["gflops"] == 10.5 and stats["geomean"]["good"]["tasks"] == 1
    board = leaderboard(out)
    assert "| 1 | good* | 10.50 [" in board  # separated from the next (close)
    assert "| 2 | close | " in board and "| 3 | bad | " in board  # close and bad overlap: no mark
    assert "## geometric mean over tasks" in board
