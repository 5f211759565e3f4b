"""Per-store features: rows remembered by program, the same as extracted afresh."""

import random

import numpy as np

from msgym.cost_models.data import final_programs
from msgym.features import StoreFeatures
from msgym.space import design_spaces
from msgym.tasks import get_task


def test_remembered_rows_are_the_rows_extracted_afresh():
    spaces = design_spaces(get_task("gmm-64"))
    programs = final_programs(spaces, spaces.sample_distinct(random.Random(0), 6))
    batch = [programs[0], None, *programs[1:4], programs[0]]  # one program twice, one invalid
    cached, fresh = StoreFeatures(), StoreFeatures(cache=0)
    first = cached.rows(spaces.context, batch)
    assert cached.hits == 0  # the repeat within one batch is extracted twice: nothing stored yet
    second = cached.rows(spaces.context, [*programs[3:], *batch])
    assert cached.hits == 6  # every program of the second batch but programs 4 and 5 was seen
    expected = fresh.rows(spaces.context, [*programs[3:], *batch])
    assert fresh.hits == 0 and fresh.cache is None
    assert all(np.array_equal(a, b) for a, b in zip(second, expected))
    assert all(np.array_equal(a, b) for a, b in zip(first, expected[3:]))
    assert second[4].shape == (1, 164) and not second[4].any()  # None: one zero row
