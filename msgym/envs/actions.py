"""The action codec: ``Discrete(n_actions)`` indices into the valid options of a sub-step.

Actions index the valid options in ascending order of value. A sub-step with more options than
``n_actions`` is paged: the first action picks a block of ``n_actions ** (levels - 1)`` options,
the next a block within it, down to one option, so no option is ever dropped. An action outside
the mask is wrapped to ``valid[action % len(valid)]`` (the env reports it in ``info``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["ActionPager", "as_action"]


def as_action(action: Any) -> int:
    """An action as a Python int: an integer, a NumPy integer or a 0-d integer array; anything
    else (a float, a string, a bool, a longer array) is refused, where ``int()`` would silently
    truncate 2.7 to 2 and NumPy would fail with an unrelated message."""
    value = action
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    shape = f" of shape {action.shape}" if isinstance(action, np.ndarray) else ""
    raise TypeError(
        f"an action is an integer index into the valid options of the pending sub-step (see action_masks()); "
        f"got {action!r} ({type(action).__name__}{shape})"
    )


class ActionPager:
    """Which option a sequence of actions picks, for a sub-step of ``n_options`` options."""

    def __init__(self, n_actions: int):
        self.n_actions = n_actions
        self.digits: list[int] = []  # the actions taken so far for the pending sub-step

    def reset(self) -> None:
        self.digits = []

    def levels(self, n_options: int) -> int:
        """Actions needed to pick one of ``n_options`` options."""
        return max(1, math.ceil(math.log(n_options, self.n_actions) - 1e-9))

    def block(self, n_options: int) -> int:
        """How many options each action of the current page level stands for."""
        return self.n_actions ** (self.levels(n_options) - len(self.digits) - 1)

    def page_index(self) -> int:
        index = 0
        for digit in self.digits:
            index = index * self.n_actions + digit
        return index

    def first_option(self, n_options: int) -> int:
        """The index of the first option of the current page."""
        return self.page_index() * self.n_actions * self.block(n_options)

    def valid_actions(self, n_options: int) -> list[int]:
        start, block = self.first_option(n_options), self.block(n_options)
        return [a for a in range(self.n_actions) if start + a * block < n_options]

    def level_fraction(self, n_options: int) -> float:
        return len(self.digits) / self.levels(n_options)

    def slot_labels(self, labels: list[float]) -> list[float]:
        """The label of each action slot: its option's, or for a paged choice its page's first."""
        n = len(labels)
        start, block = self.first_option(n), self.block(n)
        return [labels[i] for i in range(start, n, block)][: self.n_actions]

    def take(self, action: int, n_options: int) -> tuple[int, bool, "int | None"]:
        """Take ``action`` (wrapped into the mask if outside it). Returns (the action taken, whether
        it was wrapped, the chosen option's index once the sub-step is complete, else None)."""
        valid = self.valid_actions(n_options)
        wrapped = action not in valid
        if wrapped:
            action = valid[action % len(valid)]
        levels = self.levels(n_options)  # before the digit is added
        self.digits.append(action)
        if len(self.digits) < levels:
            return action, wrapped, None
        index = self.page_index()
        self.digits = []
        return action, wrapped, index
