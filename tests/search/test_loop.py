"""The search loop and the random agent (fake latencies, and one real end-to-end run)."""

import json
from pathlib import Path

import pytest
from conftest import ODD_MATMUL

from msgym.search import Candidate, SearchContext, command_line, create, tune
from msgym.space import design_spaces
from msgym.tasks import get_task


@pytest.mark.parametrize("real", [pytest.param(True, marks=pytest.mark.hardware), False])
def test_random_agent_tunes_and_logs(tmp_path, fake_measurer, real):
    result = tune(
        "gmm-64", "random", trials=6, seed=1, logdir=tmp_path, progress=False, measurer=None if real else fake_measurer
    )  # None: the search makes (and closes) its own
    assert result.trials == 6 and result.best is not None and result.best_gflops > 0
    assert result.curve == sorted(result.curve, reverse=True)  # best latency never gets worse
    run = next(tmp_path.iterdir())
    assert "gmm-64__random__seed1" in run.name
    assert json.loads((run / "config.json").read_text())["seed"] == 1
    assert (run / "command.txt").exists()
    records = (run / "records.jsonl").read_text().splitlines()
    assert len(records) == 6
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"search/best_gflops", "search/best_latency_ms", "search/best_speedup", "measure/errors"} <= tags


def test_command_line_reads_as_retyped(monkeypatch):
    monkeypatch.setattr(
        "sys.argv", ["/tmp/checkout/msgym/cli.py", "tune", "gmm-64", "--agent", "random:pool=2", "--logdir", "my runs"]
    )
    assert command_line() == "msgym tune gmm-64 --agent random:pool=2 --logdir 'my runs'"
    monkeypatch.setattr("sys.argv", ["train.py", "--seed", "3"])  # a user's own script keeps its name
    assert command_line() == "train.py --seed 3"


def test_random_agent_never_repeats_and_is_seeded():
    spaces = design_spaces(get_task(ODD_MATMUL))
    a, b = create("random"), create("random")
    a.setup(SearchContext(spaces, 5))
    b.setup(SearchContext(spaces, 5))
    first = a.propose(20)
    assert first == b.propose(20)
    assert len(set(first)) == 20
    assert not set(first) & set(a.propose(20))
    assert all(isinstance(c, Candidate) for c in first)


def test_bad_inputs(fake_measurer):
    with pytest.raises(ValueError, match="unknown agent 'genius'.*random"):
        create("genius")
    with pytest.raises(ValueError, match="positive integer"):
        tune("gmm-64", "random", trials=0, measurer=fake_measurer)


def test_agents_are_registered_by_entry_point_and_named_for_what_they_are():
    from msgym.search import AGENTS, register_agent

    assert {name: type(create(name)).__name__ for name in ("random", "evolutionary", "metaschedule")} == {
        "random": "RandomSearch",
        "evolutionary": "EvolutionarySearch",
        "metaschedule": "MetaScheduleSearch",
    }
    register_agent("random-copy", "agents.random:RandomSearch")
    try:
        assert type(create("random-copy:max_attempts=3")).__name__ == "RandomSearch"
    finally:
        del AGENTS["random-copy"]
    with pytest.raises(ValueError, match="module:Class"):
        register_agent("x", "agents.random")


def test_remeasure_measures_cached_proposals_again(fake_measurer):
    measurer = fake_measurer
    tune("gmm-64", "random", trials=3, seed=9, measurer=measurer, progress=False)
    before = measurer.measured
    tune("gmm-64", "random", trials=3, seed=9, measurer=measurer, progress=False)
    assert measurer.measured == before  # same proposals: all cached
    tune("gmm-64", "random", trials=3, seed=9, measurer=measurer, progress=False, remeasure=True)
    assert measurer.measured == before + 3


def test_drift_of_the_machine_is_recorded_and_flags_the_trials_it_touched(tmp_path):
    from msgym.measure import Measurer
    from msgym.measure.runners import FakeRunner

    with Measurer(runner=FakeRunner(drift=0.004)) as drifting:  # each measurement 0.4% slower than the last
        result = tune("gmm-64", "random", trials=30, progress=False, measurer=drifting, drift_every=8, logdir=tmp_path)
    drifts = [c["drift"] for c in result.drift]
    assert [c["trial"] for c in result.drift] == [0, 8, 16, 24, 30] and drifts[0] == 0  # (batches of 4)
    assert drifts == sorted(drifts) and drifts[1] < 0.05 < drifts[-1]  # it grew past the 5% threshold...
    first_off = next(c["trial"] for c in result.drift if c["drift"] > 0.05)
    previous = max(c["trial"] for c in result.drift if c["trial"] < first_off)
    assert result.flagged == list(range(previous + 1, 31))  # ...so trials from the last good check on are flagged
    drift_file = next(tmp_path.iterdir()) / "drift.json"
    assert json.loads(drift_file.read_text())["flagged_trials"] == result.flagged
    with Measurer(runner="fake") as steady:
        assert tune("gmm-64", "random", trials=12, progress=False, measurer=steady, drift_every=4).flagged == []


def test_a_tune_ends_with_its_best_few_re_timed(tmp_path, fake_measurer):
    """verify_rounds: the best few are timed again in that many passes; the verdict is the minimum
    over the passes' repeats of its best candidate, recorded in the result and the run folder."""
    before = fake_measurer.measured
    result = tune("gmm-64", "random", trials=6, seed=0, logdir=tmp_path, measurer=fake_measurer, progress=False)
    assert result.verified_latency_s is None  # not asked
    measured = fake_measurer.measured - before
    verified = tune(
        "gmm-64",
        "random",
        trials=6,
        seed=0,
        logdir=tmp_path,
        measurer=fake_measurer,
        progress=False,
        remeasure=True,
        verify_rounds=2,
    )
    assert fake_measurer.measured - before - measured == 6 + 2 * len(verified.top)  # trials + the passes
    assert verified.verified_latency_s == min(r.latency_s for r in verified.top)  # the fake runner does not drift
    assert verified.verified_gflops == get_task("gmm-64").gflops(verified.verified_latency_s)
    saved = json.loads((Path(verified.run_dir) / "verified.json").read_text())
    assert saved["rounds"] == 2 and saved["best"]["latency_s"] == verified.verified_latency_s


def test_a_build_far_slower_than_the_searchs_own_is_abandoned(tmp_path):
    """Once 8 builds have succeeded, the build timeout is 20x their median (at least 30 s): a build
    past it is an error that says so, and costs a trial, not the measurer's 60 s. ``build_limit=None``
    leaves the measurer's own timeout."""
    import dataclasses

    from msgym.measure import Measurer
    from msgym.measure.result import MeasureResult
    from msgym.measure.runners import FakeRunner

    @dataclasses.dataclass(frozen=True)
    class SlowBuilds(FakeRunner):
        """Every 4th program (by its latency) takes 40 s to build; the others 0.2 s."""

        timeouts: list = dataclasses.field(default_factory=list, compare=False)  # the timeout each build had

        def measure(self, mod):
            result = FakeRunner.measure(self, mod)
            slow = int(result.latency_s * 1e7) % 4 == 0
            timeout = measurer.timing.build_timeout_s
            self.timeouts.append(timeout)
            if slow and timeout < 40:
                return MeasureResult(error=f"build timed out after {timeout:g} s; the build worker was replaced")
            return dataclasses.replace(result, build_s=40.0 if slow else 0.2)

    runner = SlowBuilds()
    with Measurer(runner=runner) as measurer:
        result = tune("gmm-64", "random", 32, progress=False, measurer=measurer, remeasure=True, logdir=tmp_path)
        errors = [json.loads(line).get("error") for line in next(tmp_path.glob("*/records.jsonl")).open()]
        assert sum(e is not None for e in errors) == result.errors > 0
        assert all("(the search's build limit: 20x this search's median build, 0.20 s)" in e for e in errors if e)
        first = next(i for i, t in enumerate(runner.timeouts) if t < 60)
        assert first >= 8 and set(runner.timeouts[first:]) == {30.0}  # 20 x 0.2 s is 4 s: the floor, 30 s
        assert set(runner.timeouts[:first]) == {60.0}
        assert measurer.timing.build_timeout_s == 60.0  # the measurer's own, as it was
        runner.timeouts.clear()
        free = tune("gmm-64", "random", trials=32, progress=False, measurer=measurer, remeasure=True, build_limit=None)
        assert set(runner.timeouts) == {60.0} and free.errors == 0
    with pytest.raises(ValueError, match="build_limit must be >= 1"):
        tune("gmm-64", "random", trials=1, build_limit=0.5)


def test_the_loop_measures_in_the_strategys_own_batch_unless_told(fake_measurer):
    from agents.random import RandomSearch

    asked = []

    class Batched(RandomSearch):
        measure_batch = 5

        def propose(self, n):
            asked.append(n)
            return super().propose(n)

    tune("gmm-64", Batched(), trials=12, seed=0, measurer=fake_measurer, progress=False)
    assert asked == [5, 5, 2]
    asked.clear()
    tune("gmm-64", Batched(), trials=6, seed=1, measurer=fake_measurer, progress=False, batch=3)
    assert asked == [3, 3]  # the caller's batch wins
    # MetaSchedule's agents draw their batch ahead: measured 16 at a time at most
    assert create("metaschedule").measure_batch == create("learned").measure_batch == 16
    assert create("metaschedule", num_trials_per_iter=8).measure_batch == 8
    assert create("random").measure_batch is None  # the loop's own (4 on a CPU)
