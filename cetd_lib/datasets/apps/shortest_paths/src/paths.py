"""Dijkstra for weighted shortest paths and BFS for fewest-hop paths."""
from __future__ import annotations

import heapq
import itertools
from collections import deque

from graph import Graph, Node


class NoPathError(Exception):
    """Raised when the target cannot be reached from the source."""


def _require(graph: Graph, node: Node) -> None:
    if node not in graph:
        raise KeyError(node)


def dijkstra(graph: Graph, source: Node) -> tuple[dict[Node, float], dict[Node, Node]]:
    """Distances to every reachable node and each node's predecessor on its path."""
    _require(graph, source)
    dist: dict[Node, float] = {source: 0.0}
    prev: dict[Node, Node] = {}
    tie = itertools.count()
    heap = [(0.0, next(tie), source)]
    done = set()
    while heap:
        d, _, node = heapq.heappop(heap)
        if node in done:
            continue
        done.add(node)
        for nbr, w in graph.neighbors(node).items():
            candidate = d + w
            if nbr not in dist or candidate < dist[nbr]:
                dist[nbr] = candidate
                prev[nbr] = node
                heapq.heappush(heap, (candidate, next(tie), nbr))
    return dist, prev


def _walk_back(prev: dict[Node, Node], source: Node, target: Node) -> list[Node]:
    path = [target]
    while path[-1] != source:
        path.append(prev[path[-1]])
    path.reverse()
    return path


def shortest_path(graph: Graph, source: Node, target: Node) -> tuple[list[Node], float]:
    _require(graph, target)
    dist, prev = dijkstra(graph, source)
    if target not in dist:
        raise NoPathError(f"{target!r} unreachable from {source!r}")
    return _walk_back(prev, source, target), dist[target]


def _bfs(graph: Graph, start: Node) -> tuple[list[Node], dict[Node, int], dict[Node, Node]]:
    _require(graph, start)
    order = [start]
    hops = {start: 0}
    parent: dict[Node, Node] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nbr in graph.neighbors(node):
            if nbr not in hops:
                hops[nbr] = hops[node] + 1
                parent[nbr] = node
                order.append(nbr)
                queue.append(nbr)
    return order, hops, parent


def bfs_order(graph: Graph, start: Node) -> list[Node]:
    return _bfs(graph, start)[0]


def bfs_hops(graph: Graph, start: Node) -> dict[Node, int]:
    return _bfs(graph, start)[1]


def fewest_hops_path(graph: Graph, source: Node, target: Node) -> list[Node]:
    _require(graph, target)
    _, hops, parent = _bfs(graph, source)
    if target not in hops:
        raise NoPathError(f"{target!r} unreachable from {source!r}")
    return _walk_back(parent, source, target)
