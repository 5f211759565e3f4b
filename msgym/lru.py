"""A bounded, thread-safe cache: programs, compute locations and feature rows are remembered in one."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

__all__ = ["LRU"]


class LRU(OrderedDict):
    """A bounded cache; ``put`` and ``get`` may be called from several threads (``sample_batch``)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self.lock = threading.Lock()

    def put(self, key: Any, value: Any) -> Any:
        with self.lock:
            self[key] = value
            self.move_to_end(key)
            if len(self) > self.size:
                self.popitem(last=False)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        with self.lock:
            return super().get(key, default)
