"""Shared fixtures.

Tests that build or time real kernels carry the ``hardware`` marker (any test using the
``measurer`` or ``gmm64_measured`` fixture gets it automatically); the others measure through the
fake runner (a latency that is a deterministic function of the program): ``pytest -m "not hardware"``.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Baselines and records of the tests go to a fresh folder, not the user's cache (removed at the end).
if "MSGYM_CACHE_DIR" not in os.environ:
    os.environ["MSGYM_CACHE_DIR"] = tempfile.mkdtemp(prefix="msgym-test-cache-")
    atexit.register(shutil.rmtree, os.environ["MSGYM_CACHE_DIR"], ignore_errors=True)

DATA = Path(__file__).parent / "data"
ODD_MATMUL = f"{DATA / 'kernels.py'}:matmul_odd"
ODD_ADD = f"{DATA / 'kernels.py'}:add_relu_odd"
HARDWARE_FIXTURES = {"measurer", "gmm64_measured"}


def has_gpu() -> bool:
    from msgym._tvm import has_gpu

    return has_gpu()


def pytest_collection_modifyitems(items):
    gpu = None
    for item in items:
        if HARDWARE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.hardware)
        if item.get_closest_marker("cuda"):
            item.add_marker(pytest.mark.hardware)
            gpu = has_gpu() if gpu is None else gpu
            if not gpu:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU (this machine has none)"))


@pytest.fixture(scope="session")
def measurer():
    """A real measurer (builds, checks and times kernels here) on the test cache's store."""
    from msgym.measure import Measurer, default_store

    with Measurer(store=default_store()) as m:
        yield m


@pytest.fixture(scope="session")
def fake_store(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fake") / "records.jsonl")


@pytest.fixture(scope="session")
def fake_measurer(fake_store):
    """Measures nothing: each program's latency is a deterministic function of the program."""
    from msgym.measure import Measurer

    with Measurer(runner="fake", store=fake_store) as m:
        yield m


@pytest.fixture(scope="session")
def fake_settings(fake_store):
    """What an environment needs to make its own fake measurer (e.g. in another process)."""
    from msgym.measure import MeasurerSettings

    return MeasurerSettings(runner="fake", store=fake_store)


def _measured_gmm64(m):
    import random

    from msgym.envs.outcome import measure_candidates
    from msgym.space import design_spaces
    from msgym.tasks import get_task

    task = get_task("gmm-64")
    spaces = design_spaces(task)
    cands = spaces.sample_distinct(random.Random(0), 64)
    results = measure_candidates(m, spaces, cands)
    rows = [(s, d, r.latency_s) for (s, d), r in zip(cands, results) if r.ok]
    return task, spaces, rows, m.baseline(task).latency_s


@pytest.fixture(scope="session")
def gmm64_measured(measurer):
    """64 distinct random candidates of gmm-64, measured: (task, spaces, [(space, decisions, latency)], baseline)."""
    return _measured_gmm64(measurer)


@pytest.fixture(scope="session")
def gmm64_fake(fake_measurer):
    """The same 64 candidates with fake latencies (for tests of plumbing, not of learning)."""
    return _measured_gmm64(fake_measurer)


@pytest.fixture(scope="session")
def mlp_path(tmp_path_factory, gmm64_fake):
    """An MLP cost model trained on gmm64_fake, saved (what it predicts is not the point)."""
    from msgym.cost_models import MLPCostModel, task_data

    task, spaces, rows, baseline = gmm64_fake
    model = MLPCostModel(epochs=30)
    model.fit([task_data(spaces, rows, baseline)])
    path = tmp_path_factory.mktemp("mlp") / "mlp.pt"
    model.save(path)
    return path
