"""A bounded, thread-safe memory of values that never change once known."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """Values that never change once stored, kept in memory by key, at most ``size`` of them (the first
    remembered go first); safe to share between threads. (``functools.lru_cache`` would remember a miss
    too, and cannot be told a value it did not compute.)

    >>> memo: Memo[str, str] = Memo(size=2)
    >>> for key in "abc":
    ...     memo.remember(key, key.upper())
    >>> memo.get("a"), memo.get("c")
    (None, 'C')
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._values.get(key)

    def remember(self, key: K, value: V) -> None:
        with self._lock:
            if key not in self._values and len(self._values) >= self._size:
                del self._values[next(iter(self._values))]
            self._values[key] = value
