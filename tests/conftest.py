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
