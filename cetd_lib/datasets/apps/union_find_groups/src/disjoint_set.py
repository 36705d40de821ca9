"""Union-find (disjoint set forest) with path compression and union by size."""

from __future__ import annotations

from typing import Any, Hashable, Iterable


class DisjointSet:
    def __init__(self, elements: Iterable[Hashable] = ()) -> None:
        self._parent: dict[Hashable, Hashable] = {}
        self._size: dict[Hashable, int] = {}
        self._groups = 0
        for e in elements:
            self.add(e)

    def add(self, element: Hashable) -> bool:
        """Create a singleton set; returns False if the element already exists."""
        if element in self._parent:
            return False
        self._parent[element] = element
        self._size[element] = 1
        self._groups += 1
        return True

    def find(self, element: Hashable) -> Hashable:
        if element not in self._parent:
            raise KeyError(element)
        root = element
        while self._parent[root] != root:
            root = self._parent[root]
        # second pass: point everything on the path straight at the root
        while self._parent[element] != root:
            self._parent[element], element = root, self._parent[element]
        return root

    def union(self, a: Hashable, b: Hashable) -> bool:
        """Merge the sets of ``a`` and ``b`` (adding them if new).

        Returns True if two different sets were merged.
        """
        self.add(a)
        self.add(b)
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self._size[ra] < self._size[rb]:
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._size[ra] += self._size.pop(rb)
        self._groups -= 1
        return True

    def connected(self, a: Hashable, b: Hashable) -> bool:
        if a not in self._parent or b not in self._parent:
            return False
        return self.find(a) == self.find(b)

    def size_of(self, element: Hashable) -> int:
        return self._size[self.find(element)]

    @property
    def group_count(self) -> int:
        return self._groups

    def groups(self) -> list[list[Any]]:
        buckets: dict[Hashable, list[Any]] = {}
        for e in self._parent:
            buckets.setdefault(self.find(e), []).append(e)
        result = [sorted(members) for members in buckets.values()]
        result.sort(key=lambda g: g[0])
        return result

    def __contains__(self, element: object) -> bool:
        return element in self._parent

    def __len__(self) -> int:
        return len(self._parent)
