"""The measured dataset: collected, exported, loaded back, replayed to the same programs."""

import gzip
import json

import pytest

from msgym._tvm import structural_key
from msgym.commands.collect import collect
from msgym.cost_models import dataset
from msgym.space import design_spaces
from msgym.tasks import get_task


def test_round_trip_collect_export_load_replay(tmp_path):
    from msgym.measure import Measurer

    with Measurer(runner="fake", store=tmp_path / "records.jsonl") as m:
        collect(["gmm-64", "sfm-64"], 6, m, progress=False)
        path = tmp_path / "mine.jsonl.gz"
        n = dataset.export(m, ["gmm-64", "sfm-64"], path, command="msgym dataset export")
        entries = {
            (e.task_key, e.space, json.dumps(e.decisions)): e
            for t in ("gmm-64", "sfm-64")
            for e in m.entries(get_task(t))
        }
    rows = dataset.load([path], shipped=False)
    assert n == len(rows) == sum(e.result.ok for e in entries.values()) >= 10
    with gzip.open(path, "rt") as f:
        header = json.loads(f.readline())
    assert header["format"] == dataset.FORMAT and header["command"] == "msgym dataset export"
    for row in rows:
        task = get_task(row.task)
        entry = entries[(task.key, row.space, json.dumps(row.decisions))]
        assert row.latency_s == entry.result.latency_s and row.target == str(task.target)
        assert row.threads == entry.result.threads  # None from the fake runner; the cores for real ones
        spaces = design_spaces(task)
        # replay gives the program that was measured
        assert structural_key(spaces.program(row.space, row.decisions).mod) == structural_key(
            spaces.program(entry.space, entry.decisions).mod
        )
    groups = dataset.by_task(rows)
    assert {task for task, _, _ in groups} == {"gmm-64", "sfm-64"}


def test_rows_of_another_thread_count_are_another_group():
    """Latencies measured on TVM's default pool (files before msgym set it: no ``threads``) and on
    the target's cores are not compared with each other."""
    old = dataset.Row("gmm-64", "llvm", "x", 0, [], 1e-3, 1e-2)
    new = dataset.Row("gmm-64", "llvm", "x", 0, [], 5e-4, 1e-2, threads=2)
    assert set(dataset.by_task([old, new])) == {("gmm-64", "x", None), ("gmm-64", "x", 2)}


def test_a_file_that_is_not_a_dataset_is_named(tmp_path):
    bad = tmp_path / "bad.jsonl.gz"
    with gzip.open(bad, "wt") as f:
        f.write('{"rows": 1}\n')
    with pytest.raises(ValueError, match="bad.jsonl.gz is not an msgym dataset"):
        dataset.load([bad], shipped=False)


def test_operators_of_task_strings():
    assert dataset.operator_of("GMM/2") == "GMM" and dataset.operator_of("gmm-512") == "GMM"
    assert dataset.operator_of("c2d") == "C2D" and dataset.operator_of("kernel.py:f") == "kernel.py:f"


def test_the_shipped_dataset_loads_and_replays():
    rows = dataset.load()
    assert len(rows) >= 500, "the shipped dataset is missing or small"
    first = {}
    for row in rows:
        first.setdefault(row.task, row)
    for row in list(first.values())[:3]:
        design_spaces(get_task(row.task)).program(row.space, row.decisions)  # replays
