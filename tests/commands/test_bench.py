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
    assert "| 1 | good* | - | 10.50 [" in board  # separated from the next (close); not verified: "-"
    assert "| 2 | close | " in board and "| 3 | bad | " in board  # close and bad overlap: no mark
    assert "## geometric mean over tasks" in board


def test_verified_figures_rank_the_leaderboard():
    """The in-loop best says A; re-timing the same candidates says B (the in-loop figure was a lucky
    measurement): the leaderboard ranks by the verified one and keeps both."""
    runs = [{**_run("t", "A", s, 10.0), "verified_gflops": v} for s, v in enumerate([6.0, 6.1, 5.9])]
    runs += [{**_run("t", "B", s, 8.0), "verified_gflops": v} for s, v in enumerate([8.0, 8.1, 7.9])]
    out = {"trials": 2, "seeds": 3, "agents": ["A", "B"], "runs": runs}
    cell = summarize(out)["summary"]["t"]["B"]
    assert cell["verified_gflops_mean"] == 8.0 and cell["gflops_mean"] == 8.0
    board = leaderboard(out)
    assert "| 1 | B* | 8.00 [" in board and "| 2 | A | 6.00 [" in board and "(ranked by verified GFLOPS)" in board


def test_verification_re_times_each_runs_best_candidates(fake_measurer):
    from msgym.search.verify import verify_runs
    from msgym.space import design_spaces
    from msgym.tasks import get_task

    task = get_task("gmm-64")
    spaces = design_spaces(task)
    cands = [
        {"space": 0, "decisions": spaces.default_decisions(0)},
        {"space": 1, "decisions": spaces.default_decisions(1)},
    ]
    runs = [
        {**_run("gmm-64", "x", 0, 1.0), "top_candidates": cands},
        {**_run("gmm-64", "y", 0, 1.0), "top_candidates": cands[1:]},
    ]
    before = fake_measurer.measured
    calls = []
    # a timer interleaved with the candidates; the minimum of [2, 1, 2, 1] ms resampled is 2 ms 1/16 of the time
    extra = {"reference": lambda: calls.append(1) or [2e-3, 1e-3]}
    verdicts = verify_runs(runs, fake_measurer, rounds=2, extra=lambda task: extra)
    assert fake_measurer.measured - before == 2 * 2  # two distinct candidates, two passes: each timed once a pass
    assert len(calls) == 2
    assert verdicts["gmm-64"]["reference"] == {"latency_s": 1e-3, "ci95": [1e-3, 2e-3], "repeats": 4}
    latencies = [fake_measurer.measure(task, spaces.program(c["space"], c["decisions"]).mod).latency_s for c in cands]
    assert runs[0]["verified_latency_s"] == min(latencies) and runs[1]["verified_latency_s"] == latencies[1]
    assert runs[0]["verified_gflops"] == task.gflops(min(latencies))
    # _run's candidates carry no in-loop latency: nothing to judge a slow spell by, one try
    assert runs[0]["verified_slowdown"] is None and runs[0]["verified_attempts"] == 1
    low, high = runs[0]["verified_ci95"]
    assert low <= runs[0]["verified_latency_s"] <= high
    before = fake_measurer.measured
    assert verify_runs(runs, fake_measurer) == {} and fake_measurer.measured == before  # verified once


def test_fast_p_against_each_reference_on_fixed_runs():
    from msgym.commands.references import fast_p_summary, reference_latencies

    def run(task, agent, seed, latency):
        return {"task": task, "agent": agent, "seed": seed, "verified_latency_s": latency}

    out = {
        "agents": ["a", "metaschedule"],
        "runs": [
            run("t1", "a", 0, 1.0),  # 2x MetaSchedule's 2.0, 0.5x PyTorch's 0.5
            run("t1", "a", 1, None),  # no correct kernel: a failure
            run("t2", "a", 0, 1.1),  # 1/1.1 = 0.91x MetaSchedule's 1.0: fast_0.8 only
            run("t1", "metaschedule", 0, 2.0),
            run("t2", "metaschedule", 0, 1.0),
        ],
    }
    refs = reference_latencies(out, {"t1": {"pytorch_eager": {"latency_s": 0.5}}})
    assert refs == {"t1": {"pytorch_eager": 0.5, "metaschedule": 2.0}, "t2": {"metaschedule": 1.0}}
    summary = fast_p_summary(out, refs)
    assert summary["a"]["metaschedule"] == {"fast_1.0": 1 / 3, "fast_0.8": 2 / 3, "runs": 3}
    assert summary["a"]["pytorch_eager"] == {"fast_1.0": 0.0, "fast_0.8": 0.0, "runs": 2}  # t2 has no PyTorch
    assert summary["metaschedule"]["metaschedule"]["fast_1.0"] == 1.0


def test_a_bench_of_the_extended_space_verifies_both_spaces_runs_together(fake_measurer, tmp_path):
    """--space extended: the random agent searches the extended space, metaschedule (the baseline)
    its own; their best candidates are re-timed in the same passes, each from its own space."""
    from msgym.commands import bench

    out = bench.run(
        ["gmm-64"],
        ["random", "metaschedule"],
        trials=2,
        seeds=1,
        logdir=None,
        json_path=str(tmp_path / "bench.json"),
        measurer=fake_measurer,
        progress=False,
        verify_rounds=1,
        drift_every=0,
        fast_p=False,
        space="extended",
    )
    kinds = {r["agent"]: r["space_kind"] for r in out["runs"]}
    assert kinds == {"random": "extended", "metaschedule": "default"}
    assert all(r["verified_latency_s"] for r in out["runs"])
    assert {c["space_kind"] for r in out["runs"] for c in r["top_candidates"]} == {"extended", "default"}


def test_a_bench_without_metaschedule_runs_its_reference_unless_told_not_to(fake_measurer, tmp_path):
    """fast_p's MetaSchedule reference run (one per task when that agent is not benched) costs a GPU
    lease 150-220 s a task: ``reference_run=False`` leaves it out (fast_p stays, against PyTorch)."""
    from msgym.commands import bench

    def bench_random(name: str, reference_run: bool) -> dict:
        return bench.run(
            ["gmm-64"],
            ["random"],
            trials=2,
            seeds=1,
            logdir=None,
            json_path=str(tmp_path / name),
            measurer=fake_measurer,
            progress=False,
            verify_rounds=1,
            drift_every=0,
            reference_run=reference_run,
        )

    with_ref = bench_random("with.json", True)
    assert [r["agent"] for r in with_ref["reference_runs"]] == ["metaschedule"]
    assert "metaschedule" in with_ref["fast_p_latencies"]["gmm-64"]
    without = bench_random("without.json", False)
    assert "reference_runs" not in without and "fast_p" in without
    assert "metaschedule" not in without["fast_p_latencies"].get("gmm-64", {})
