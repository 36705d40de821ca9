"""Replay access traces against cache policies to compare hit counts."""

from __future__ import annotations

from collections import OrderedDict
from typing import Hashable, Iterable

from lfu import LFUCache


def simulate_lfu(capacity: int, accesses: Iterable[Hashable]) -> tuple[int, int]:
    """Read-through replay: every miss loads the key. Returns (hits, misses)."""
    cache = LFUCache(capacity)
    for key in accesses:
        if key in cache:
            cache.get(key)
        else:
            cache.misses += 1
            cache.put(key, True)
    return cache.hits, cache.misses


def simulate_lru(capacity: int, accesses: Iterable[Hashable]) -> tuple[int, int]:
    if capacity < 1:
        raise ValueError("capacity must be >= 1")
    store: OrderedDict[Hashable, None] = OrderedDict()
    hits = misses = 0
    for key in accesses:
        if key in store:
            hits += 1
            store.move_to_end(key)
            continue
        misses += 1
        if len(store) >= capacity:
            store.popitem(last=False)
        store[key] = None
    return hits, misses


def compare_policies(capacity: int, accesses: Iterable[Hashable]) -> dict[str, int]:
    trace = list(accesses)
    return {
        "lfu": simulate_lfu(capacity, trace)[0],
        "lru": simulate_lru(capacity, trace)[0],
    }


def parse_trace(text: str) -> list[str]:
    """Split a trace written as whitespace/comma separated keys."""
    return [tok for tok in text.replace(",", " ").split() if tok]
