"""An ordered mapping implemented as a probabilistic skip list.

Tower heights come from a private ``random.Random(seed)`` so the shape of the
structure is reproducible; the observable mapping behaviour never depends on it.
"""

from __future__ import annotations

import random
from typing import Any, Iterable, Iterator, Optional


class _Node:
    __slots__ = ("key", "value", "forward")

    def __init__(self, key: Any, value: Any, height: int) -> None:
        self.key = key
        self.value = value
        self.forward: list[Optional[_Node]] = [None] * height


class SkipListMap:
    def __init__(self, seed: int = 0, max_level: int = 16, p: float = 0.5) -> None:
        if max_level < 1:
            raise ValueError("max_level must be >= 1")
        if not 0.0 < p < 1.0:
            raise ValueError("p must lie strictly between 0 and 1")
        self._rng = random.Random(seed)
        self._max_level = max_level
        self._p = p
        self._head = _Node(None, None, max_level)
        self._level = 1
        self._size = 0

    # ------------------------------------------------------------------
    def _random_height(self) -> int:
        h = 1
        while h < self._max_level and self._rng.random() < self._p:
            h += 1
        return h

    def _predecessors(self, key: Any) -> list[_Node]:
        """For each level, the last node whose key is strictly below ``key``."""
        update = [self._head] * self._max_level
        node = self._head
        for lvl in range(self._level - 1, -1, -1):
            nxt = node.forward[lvl]
            while nxt is not None and nxt.key < key:
                node = nxt
                nxt = node.forward[lvl]
            update[lvl] = node
        return update

    def _find(self, key: Any) -> Optional[_Node]:
        cand = self._predecessors(key)[0].forward[0]
        if cand is not None and cand.key == key:
            return cand
        return None

    # ------------------------------------------------------------------
    def __setitem__(self, key: Any, value: Any) -> None:
        update = self._predecessors(key)
        cand = update[0].forward[0]
        if cand is not None and cand.key == key:
            cand.value = value
            return
        height = self._random_height()
        if height > self._level:
            self._level = height
        node = _Node(key, value, height)
        for lvl in range(height):
            node.forward[lvl] = update[lvl].forward[lvl]
            update[lvl].forward[lvl] = node
        self._size += 1

    def __getitem__(self, key: Any) -> Any:
        node = self._find(key)
        if node is None:
            raise KeyError(key)
        return node.value

    def get(self, key: Any, default: Any = None) -> Any:
        node = self._find(key)
        return default if node is None else node.value

    def __delitem__(self, key: Any) -> None:
        self.pop(key)

    def pop(self, key: Any) -> Any:
        update = self._predecessors(key)
        target = update[0].forward[0]
        if target is None or target.key != key:
            raise KeyError(key)
        for lvl in range(len(target.forward)):
            if update[lvl].forward[lvl] is target:
                update[lvl].forward[lvl] = target.forward[lvl]
        while self._level > 1 and self._head.forward[self._level - 1] is None:
            self._level -= 1
        self._size -= 1
        return target.value

    def __contains__(self, key: object) -> bool:
        return self._find(key) is not None

    def __len__(self) -> int:
        return self._size

    def _nodes(self) -> Iterator[_Node]:
        node = self._head.forward[0]
        while node is not None:
            yield node
            node = node.forward[0]

    def __iter__(self) -> Iterator[Any]:
        return (n.key for n in self._nodes())

    def keys(self) -> list[Any]:
        return list(self)

    def values(self) -> list[Any]:
        return [n.value for n in self._nodes()]

    def items(self) -> list[tuple[Any, Any]]:
        return [(n.key, n.value) for n in self._nodes()]

    # -- ordered queries ----------------------------------------------------
    def first_key(self) -> Any:
        node = self._head.forward[0]
        if node is None:
            raise KeyError("empty map")
        return node.key

    def last_key(self) -> Any:
        node = self._head
        for lvl in range(self._level - 1, -1, -1):
            while node.forward[lvl] is not None:
                node = node.forward[lvl]  # type: ignore[assignment]
        if node is self._head:
            raise KeyError("empty map")
        return node.key

    def pop_first(self) -> tuple[Any, Any]:
        key = self.first_key()
        return key, self.pop(key)

    def floor_key(self, key: Any) -> Any:
        """Largest key <= ``key``, or None."""
        exact = self._find(key)
        if exact is not None:
            return exact.key
        pred = self._predecessors(key)[0]
        return None if pred is self._head else pred.key

    def ceiling_key(self, key: Any) -> Any:
        """Smallest key >= ``key``, or None."""
        nxt = self._predecessors(key)[0].forward[0]
        return None if nxt is None else nxt.key

    def range_items(self, lo: Any = None, hi: Any = None) -> list[tuple[Any, Any]]:
        """Items with lo <= key < hi; a None bound is open-ended."""
        node = self._head.forward[0] if lo is None else self._predecessors(lo)[0].forward[0]
        out = []
        while node is not None and (hi is None or node.key < hi):
            out.append((node.key, node.value))
            node = node.forward[0]
        return out

    def __repr__(self) -> str:
        body = ", ".join(f"{k!r}: {v!r}" for k, v in self.items())
        return f"SkipListMap({{{body}}})"


def from_pairs(pairs: Iterable[tuple[Any, Any]], seed: int = 0) -> SkipListMap:
    """Build a map; when a key repeats, the later value wins."""
    m = SkipListMap(seed=seed)
    for k, v in pairs:
        m[k] = v
    return m


def merge(a: SkipListMap, b: SkipListMap) -> SkipListMap:
    """New map containing both inputs' entries, preferring ``b`` on conflicts."""
    return from_pairs(list(a.items()) + list(b.items()))


def count_in_range(m: SkipListMap, lo: Any, hi: Any) -> int:
    return len(m.range_items(lo, hi))
