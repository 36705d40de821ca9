"""Binary min-heap addressable by key, supporting decrease-key in O(log n)."""

from __future__ import annotations

from typing import Any, Hashable


class IndexedMinHeap:
    """Priority queue of unique keys.

    Each slot of the array heap holds ``[priority, seq, key]`` where ``seq``
    is a monotonically increasing insertion counter; it breaks ties so that
    among equal priorities the key pushed first comes out first.
    """

    def __init__(self) -> None:
        self._heap: list[list[Any]] = []
        self._where: dict[Hashable, int] = {}
        self._counter = 0

    # ----- sift helpers -----
    def _less(self, i: int, j: int) -> bool:
        a, b = self._heap[i], self._heap[j]
        return (a[0], a[1]) < (b[0], b[1])

    def _swap(self, i: int, j: int) -> None:
        h = self._heap
        h[i], h[j] = h[j], h[i]
        self._where[h[i][2]] = i
        self._where[h[j][2]] = j

    def _sift_up(self, i: int) -> None:
        while i > 0:
            parent = (i - 1) // 2
            if not self._less(i, parent):
                break
            self._swap(i, parent)
            i = parent

    def _sift_down(self, i: int) -> None:
        n = len(self._heap)
        while True:
            smallest = i
            for child in (2 * i + 1, 2 * i + 2):
                if child < n and self._less(child, smallest):
                    smallest = child
            if smallest == i:
                return
            self._swap(i, smallest)
            i = smallest

    # ----- public API -----
    def push(self, key: Hashable, priority: float) -> None:
        if key in self._where:
            raise ValueError(f"key {key!r} already present")
        self._heap.append([priority, self._counter, key])
        self._counter += 1
        self._where[key] = len(self._heap) - 1
        self._sift_up(len(self._heap) - 1)

    def peek(self) -> tuple[Hashable, float]:
        if not self._heap:
            raise IndexError("peek from empty heap")
        priority, _, key = self._heap[0]
        return key, priority

    def pop(self) -> tuple[Hashable, float]:
        if not self._heap:
            raise IndexError("pop from empty heap")
        top = self._heap[0]
        self._remove_at(0)
        return top[2], top[0]

    def _remove_at(self, i: int) -> None:
        last = len(self._heap) - 1
        if i != last:
            self._swap(i, last)
        entry = self._heap.pop()
        del self._where[entry[2]]
        if i < len(self._heap):
            self._sift_down(i)
            self._sift_up(i)

    def remove(self, key: Hashable) -> float:
        i = self._where[key]
        priority = self._heap[i][0]
        self._remove_at(i)
        return priority

    def priority_of(self, key: Hashable) -> float:
        return self._heap[self._where[key]][0]

    def decrease_key(self, key: Hashable, priority: float) -> None:
        i = self._where[key]
        if priority > self._heap[i][0]:
            raise ValueError("new priority is larger than the current one")
        self._heap[i][0] = priority
        self._sift_up(i)

    def update(self, key: Hashable, priority: float) -> None:
        """Set the priority of ``key`` in either direction, pushing it if absent."""
        if key not in self._where:
            self.push(key, priority)
            return
        i = self._where[key]
        self._heap[i][0] = priority
        self._sift_up(i)
        self._sift_down(self._where[key])

    def __contains__(self, key: object) -> bool:
        return key in self._where

    def __len__(self) -> int:
        return len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._heap)


def heap_sort_by(items: dict[Hashable, float]) -> list[Hashable]:
    """Keys of ``items`` ordered by ascending value (stable on ties)."""
    heap = IndexedMinHeap()
    for key, priority in items.items():
        heap.push(key, priority)
    return [heap.pop()[0] for _ in range(len(heap))]
