"""The build-time model: shipped with the package, scores programs, round-trips through a file."""

import random

import numpy as np

from msgym.cost_models.build_time import SHIPPED, BuildTimeModel, summary_features
from msgym.cost_models.data import feature_rows, final_programs
from msgym.space import design_spaces
from msgym.tasks import get_task


def _rows(n: int = 12):
    spaces = design_spaces(get_task("gmm-64"))
    programs = final_programs(spaces, spaces.sample_distinct(random.Random(0), n))
    return feature_rows(spaces, [p for p in programs if p is not None])


def test_the_shipped_model_loads_from_the_package_and_scores():
    assert SHIPPED.is_file() and SHIPPED.with_suffix(".meta.json").is_file()
    rows = _rows()
    predicted = BuildTimeModel.load().predict_rows(rows)
    assert predicted.shape == (len(rows),) and np.isfinite(predicted).all()
    assert np.ptp(predicted) > 0  # it tells programs apart


def test_fit_save_load_round_trip(tmp_path):
    rows = _rows()
    x = summary_features(rows)
    assert x.shape == (len(rows), 2 * rows[0].shape[1] + 1)
    y = np.log(0.05 + np.arange(len(rows)) / 100)  # any targets: the round trip is what is tested
    model = BuildTimeModel.fit(x, y)
    model.save(tmp_path / "m.json")
    again = BuildTimeModel.load(tmp_path / "m.json")
    np.testing.assert_allclose(again.predict_rows(rows), model.predict_rows(rows), rtol=1e-6)
