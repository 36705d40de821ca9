"""Fixed-capacity circular buffer that overwrites its oldest element."""

from __future__ import annotations

from typing import Any, Iterable, Iterator


class RingBuffer:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._slots: list[Any] = [None] * capacity
        self._head = 0  # index of the oldest element
        self._count = 0

    @property
    def capacity(self) -> int:
        return len(self._slots)

    def is_full(self) -> bool:
        return self._count == len(self._slots)

    def append(self, item: Any) -> Any:
        """Add ``item``; returns the overwritten element, or None if nothing was lost."""
        cap = len(self._slots)
        if self._count < cap:
            self._slots[(self._head + self._count) % cap] = item
            self._count += 1
            return None
        dropped = self._slots[self._head]
        self._slots[self._head] = item
        self._head = (self._head + 1) % cap
        return dropped

    def extend(self, items: Iterable[Any]) -> None:
        for item in items:
            self.append(item)

    def popleft(self) -> Any:
        if self._count == 0:
            raise IndexError("pop from empty buffer")
        item = self._slots[self._head]
        self._slots[self._head] = None
        self._head = (self._head + 1) % len(self._slots)
        self._count -= 1
        return item

    def clear(self) -> None:
        self._slots = [None] * len(self._slots)
        self._head = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("ring buffer index out of range")
        return self._slots[(self._head + index) % len(self._slots)]

    def __iter__(self) -> Iterator[Any]:
        for i in range(self._count):
            yield self._slots[(self._head + i) % len(self._slots)]

    def to_list(self) -> list[Any]:
        return list(self)
