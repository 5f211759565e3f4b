"""Shared agent machinery: screened walks (``new_walks``)."""

import random

from msgym.search.strategy import new_walks
from msgym.space import design_spaces
from msgym.tasks import get_task

H100 = {"kind": "cuda", "arch": "sm_90"}


def test_screened_walks_are_valid_distinct_and_the_same_on_any_number_of_threads():
    """A GPU space, where most walks fail a postprocessor: screening runs on threads, yet a seed
    gives the same candidates whatever the thread count (runs replay)."""
    spaces = design_spaces(get_task("gmm-64", H100))
    one = new_walks(spaces, lambda: (None, None), 12, set(), random.Random(3), threads=1)
    seen: set = set()
    four = new_walks(spaces, lambda: (None, None), 12, seen, random.Random(3), threads=4)
    assert one == four and len(set(four)) == 12 and seen == set(four)
    assert all(spaces.valid(c.space, c.decision_list()) for c in four)
    again = new_walks(spaces, lambda: (None, None), 12, seen, random.Random(3), threads=4)
    assert not set(again) & set(four)  # never one already seen


def test_walks_keep_what_draw_asks_for_where_it_is_valid():
    spaces = design_spaces(get_task("gmm-64"))
    parent = new_walks(spaces, lambda: (None, None), 1, set(), random.Random(0))[0]
    genes = parent.decision_list()
    genes[-1] = None  # re-drawn; every earlier decision inherited
    children = new_walks(spaces, lambda: (parent.space, genes), 3, {parent}, random.Random(1), threads=2)
    assert children and all(c.space == parent.space for c in children)
    assert all(c.decisions[:-1] == parent.decisions[:-1] and c != parent for c in children)


def test_walks_that_only_repeat_end_the_search_instead_of_looping():
    spaces = design_spaces(get_task("gmm-64"))
    parent = new_walks(spaces, lambda: (None, None), 1, set(), random.Random(0))[0]
    same = lambda: (parent.space, parent.decision_list())  # noqa: E731 - every walk is the parent again
    assert new_walks(spaces, same, 4, {parent}, random.Random(0), max_attempts=20) == []
