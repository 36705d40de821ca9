"""Practical problems solved with a disjoint set."""

from __future__ import annotations

from typing import Hashable, Iterable, Sequence

from disjoint_set import DisjointSet


def group_pairs(pairs: Iterable[tuple[Hashable, Hashable]]) -> list[list]:
    """Cluster items that are linked (directly or transitively) by pairs."""
    ds = DisjointSet()
    for a, b in pairs:
        ds.union(a, b)
    return ds.groups()


def count_islands(grid: Sequence[str]) -> int:
    """Count 4-connected regions of ``#`` cells in a list of equal-width rows."""
    widths = {len(row) for row in grid}
    if len(widths) > 1:
        raise ValueError("grid rows must have equal length")
    ds = DisjointSet()
    for r, row in enumerate(grid):
        for c, cell in enumerate(row):
            if cell != "#":
                continue
            ds.add((r, c))
            if r > 0 and grid[r - 1][c] == "#":
                ds.union((r, c), (r - 1, c))
            if c > 0 and row[c - 1] == "#":
                ds.union((r, c), (r, c - 1))
    return ds.group_count


def kruskal(nodes: Iterable[Hashable], edges: Iterable[tuple[Hashable, Hashable, float]]):
    """Minimum spanning forest.

    Returns ``(total_weight, chosen_edges)`` where the chosen edges are in
    the order they were accepted (ascending weight, input order on ties).
    """
    ds = DisjointSet(nodes)
    chosen: list[tuple[Hashable, Hashable, float]] = []
    total = 0.0
    for u, v, w in sorted(edges, key=lambda e: e[2]):
        if u not in ds or v not in ds:
            raise KeyError(u if u not in ds else v)
        if ds.union(u, v):
            chosen.append((u, v, w))
            total += w
    return total, chosen


def redundant_links(pairs: Iterable[tuple[Hashable, Hashable]]) -> list[tuple[Hashable, Hashable]]:
    """Pairs that join items already connected by earlier pairs (cycle closers)."""
    ds = DisjointSet()
    extra = []
    for a, b in pairs:
        if not ds.union(a, b):
            extra.append((a, b))
    return extra
