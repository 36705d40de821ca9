"""Least-frequently-used cache with O(1) get/put.

Entries are grouped into buckets by access frequency; each bucket is an
OrderedDict kept in recency order so ties are broken by evicting the least
recently used entry of the lowest-frequency bucket.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable, Optional

EvictHook = Callable[[Hashable, Any], None]


class LFUCache:
    def __init__(self, capacity: int, on_evict: Optional[EvictHook] = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.on_evict = on_evict
        self._values: dict[Hashable, Any] = {}
        self._freq: dict[Hashable, int] = {}
        self._buckets: dict[int, OrderedDict[Hashable, None]] = {}
        self._min_freq = 0
        self.hits = 0
        self.misses = 0

    def _touch(self, key: Hashable) -> None:
        """Move ``key`` from its bucket to the next-higher-frequency bucket."""
        f = self._freq[key]
        bucket = self._buckets[f]
        del bucket[key]
        if not bucket:
            del self._buckets[f]
            if self._min_freq == f:
                self._min_freq = f + 1
        self._freq[key] = f + 1
        self._buckets.setdefault(f + 1, OrderedDict())[key] = None

    def _evict(self) -> None:
        bucket = self._buckets[self._min_freq]
        victim, _ = bucket.popitem(last=False)
        if not bucket:
            del self._buckets[self._min_freq]
        value = self._values.pop(victim)
        del self._freq[victim]
        if self.on_evict is not None:
            self.on_evict(victim, value)

    def get(self, key: Hashable, default: Any = None) -> Any:
        if key not in self._values:
            self.misses += 1
            return default
        self.hits += 1
        self._touch(key)
        return self._values[key]

    def put(self, key: Hashable, value: Any) -> None:
        if key in self._values:
            self._values[key] = value
            self._touch(key)
            return
        if len(self._values) >= self.capacity:
            self._evict()
        self._values[key] = value
        self._freq[key] = 1
        self._buckets.setdefault(1, OrderedDict())[key] = None
        self._min_freq = 1

    def frequency(self, key: Hashable) -> int:
        return self._freq[key]

    def most_frequent(self, n: int) -> list[Hashable]:
        ordered: list[Hashable] = []
        for f in sorted(self._buckets, reverse=True):
            ordered.extend(reversed(self._buckets[f]))
        return ordered[:n]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)
