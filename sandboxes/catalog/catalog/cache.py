"""A small LRU cache whose entries remember the version token they were computed under."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable


class VersionedCache:
    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, tuple[Hashable, Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, token: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value for `key` if it was computed under `token`, else `compute()`."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] == token:
            self.hits += 1
            self._entries.move_to_end(key)
            return entry[1]
        self.misses += 1
        value = compute()
        self._entries[key] = (token, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
