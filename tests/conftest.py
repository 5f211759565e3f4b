"""Shared fixtures. Tests use real TVM builds and measurements on small tasks."""

import os
import tempfile
from pathlib import Path

import pytest

# Baselines measured by tests go to a fresh folder, not the user's cache.
os.environ.setdefault("MSGYM_CACHE_DIR", tempfile.mkdtemp(prefix="msgym-test-cache-"))

DATA = Path(__file__).parent / "data"
ODD_MATMUL = f"{DATA / 'kernels.py'}:matmul_odd"
ODD_ADD = f"{DATA / 'kernels.py'}:add_relu_odd"


@pytest.fixture(scope="session")
def measurer():
    from msgym.measure import Measurer

    m = Measurer.shared()
    yield m
    m.close()


@pytest.fixture(scope="session")
def gmm64_measured(measurer):
    """64 distinct random candidates of gmm-64, measured: (task, spaces, [(space, decisions, latency)], baseline)."""
    import random

    from msgym.space import design_spaces
    from msgym.tasks import get_task

    task = get_task("gmm-64")
    spaces = design_spaces(task)
    cands = spaces.sample_distinct(random.Random(0), 64)
    results = measurer.measure_candidates(task, spaces, cands)
    rows = [(s, d, r.latency_s) for (s, d), r in zip(cands, results) if r.ok]
    return task, spaces, rows, measurer.baseline(task).latency_s


@pytest.fixture(scope="session")
def mlp_path(tmp_path_factory, gmm64_measured):
    """An MLP cost model trained on gmm64_measured, saved."""
    from msgym.cost_model import MLPCostModel, task_data

    task, spaces, rows, baseline = gmm64_measured
    model = MLPCostModel(epochs=30)
    model.fit([task_data(spaces, rows, baseline)])
    path = tmp_path_factory.mktemp("mlp") / "mlp.pt"
    model.save(path)
    return path
