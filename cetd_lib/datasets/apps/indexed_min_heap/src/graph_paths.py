"""Shortest paths on weighted directed graphs using the indexed heap."""

from __future__ import annotations

from indexed_heap import IndexedMinHeap

Graph = dict[str, dict[str, float]]


def _relax_all(graph: Graph, source: str) -> tuple[dict[str, float], dict[str, str]]:
    if source not in graph:
        raise KeyError(source)
    dist: dict[str, float] = {source: 0.0}
    parent: dict[str, str] = {}
    frontier = IndexedMinHeap()
    frontier.push(source, 0.0)
    settled: set[str] = set()
    while frontier:
        node, d = frontier.pop()
        settled.add(node)
        for nbr, w in graph.get(node, {}).items():
            if w < 0:
                raise ValueError("negative edge weight")
            if nbr in settled:
                continue
            candidate = d + w
            if nbr not in dist:
                dist[nbr] = candidate
                parent[nbr] = node
                frontier.push(nbr, candidate)
            elif candidate < dist[nbr]:
                dist[nbr] = candidate
                parent[nbr] = node
                frontier.decrease_key(nbr, candidate)
    return dist, parent


def dijkstra(graph: Graph, source: str) -> dict[str, float]:
    return _relax_all(graph, source)[0]


def shortest_path(graph: Graph, source: str, target: str) -> list[str]:
    dist, parent = _relax_all(graph, source)
    if target not in dist:
        return []
    path = [target]
    while path[-1] != source:
        path.append(parent[path[-1]])
    path.reverse()
    return path
