"""A small weighted adjacency-map graph (directed or undirected)."""
from __future__ import annotations

from typing import Hashable, Iterable, Iterator

Node = Hashable


class Graph:
    def __init__(self, directed: bool = False) -> None:
        self.directed = directed
        self._adj: dict[Node, dict[Node, float]] = {}

    def add_node(self, node: Node) -> None:
        self._adj.setdefault(node, {})

    def add_edge(self, u: Node, v: Node, weight: float = 1.0) -> None:
        """Add (or re-weight) an edge; undirected graphs store both directions."""
        if weight < 0:
            raise ValueError("edge weights must be non-negative")
        self.add_node(u)
        self.add_node(v)
        self._adj[u][v] = float(weight)
        if not self.directed:
            self._adj[v][u] = float(weight)

    def neighbors(self, node: Node) -> dict[Node, float]:
        """Mapping neighbour -> weight in insertion order; unknown node -> KeyError."""
        return dict(self._adj[node])

    def weight(self, u: Node, v: Node) -> float:
        return self._adj[u][v]

    def nodes(self) -> list[Node]:
        return list(self._adj)

    def edge_count(self) -> int:
        total = sum(len(nbrs) for nbrs in self._adj.values())
        if self.directed:
            return total
        loops = sum(1 for n, nbrs in self._adj.items() if n in nbrs)
        return (total + loops) // 2

    def __contains__(self, node: object) -> bool:
        return node in self._adj

    def __len__(self) -> int:
        return len(self._adj)

    def __iter__(self) -> Iterator[Node]:
        return iter(self._adj)


def from_edges(edges: Iterable[tuple], directed: bool = False) -> Graph:
    """Build a graph from (u, v) or (u, v, weight) tuples."""
    g = Graph(directed=directed)
    for edge in edges:
        if len(edge) == 2:
            g.add_edge(edge[0], edge[1])
        elif len(edge) == 3:
            g.add_edge(edge[0], edge[1], edge[2])
        else:
            raise ValueError(f"bad edge tuple: {edge!r}")
    return g
