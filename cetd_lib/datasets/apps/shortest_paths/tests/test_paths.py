import pytest

from graph import Graph, from_edges
from paths import NoPathError, bfs_hops, bfs_order, dijkstra, fewest_hops_path, shortest_path


def sample():
    g = from_edges([("A", "B", 4), ("A", "C", 2), ("C", "B", 1), ("B", "D", 5), ("C", "D", 8), ("D", "E", 3)])
    g.add_node("F")
    return g


def test_graph_basics():
    g = sample()
    assert g.nodes() == ["A", "B", "C", "D", "E", "F"]
    assert len(g) == 6
    assert "F" in g and "Z" not in g
    assert g.edge_count() == 6
    assert g.neighbors("C") == {"A": 2.0, "B": 1.0, "D": 8.0}
    assert g.weight("D", "B") == 5.0


def test_directed_graph_stores_one_direction():
    g = Graph(directed=True)
    g.add_edge("x", "y", 2)
    assert g.neighbors("x") == {"y": 2.0}
    assert g.neighbors("y") == {}
    assert g.edge_count() == 1


def test_negative_weight_rejected_and_reweighting():
    g = Graph()
    with pytest.raises(ValueError):
        g.add_edge(1, 2, -1)
    g.add_edge(1, 2, 5)
    g.add_edge(1, 2, 3)
    assert g.weight(2, 1) == 3.0
    assert g.edge_count() == 1


def test_from_edges_default_weight_and_bad_tuple():
    g = from_edges([(1, 2), (2, 3, 2.5)])
    assert g.neighbors(2) == {1: 1.0, 3: 2.5}
    with pytest.raises(ValueError):
        from_edges([(1,)])


def test_neighbors_of_unknown_node_raises_key_error():
    with pytest.raises(KeyError):
        sample().neighbors("Z")


def test_dijkstra_distances_and_predecessors():
    dist, prev = dijkstra(sample(), "A")
    assert dist == {"A": 0.0, "B": 3.0, "C": 2.0, "D": 8.0, "E": 11.0}
    assert prev["B"] == "C"
    assert prev["D"] == "B"
    assert "A" not in prev
    assert "F" not in dist


def test_shortest_path_prefers_lighter_route():
    path, cost = shortest_path(sample(), "A", "E")
    assert path == ["A", "C", "B", "D", "E"]
    assert cost == pytest.approx(11.0)


def test_shortest_path_to_self():
    assert shortest_path(sample(), "B", "B") == (["B"], 0.0)


def test_unreachable_and_unknown_nodes():
    with pytest.raises(NoPathError):
        shortest_path(sample(), "A", "F")
    with pytest.raises(KeyError):
        shortest_path(sample(), "A", "Z")
    with pytest.raises(KeyError):
        dijkstra(sample(), "Z")


def test_directed_reachability():
    g = from_edges([("a", "b", 1), ("b", "c", 1)], directed=True)
    assert shortest_path(g, "a", "c") == (["a", "b", "c"], 2.0)
    with pytest.raises(NoPathError):
        shortest_path(g, "c", "a")


def test_bfs_order_follows_insertion_order():
    assert bfs_order(sample(), "A") == ["A", "B", "C", "D", "E"]
    assert bfs_order(sample(), "F") == ["F"]


def test_bfs_hops():
    assert bfs_hops(sample(), "E") == {"E": 0, "D": 1, "B": 2, "C": 2, "A": 3}


def test_fewest_hops_path_ignores_weights():
    assert fewest_hops_path(sample(), "A", "D") == ["A", "B", "D"]
    assert fewest_hops_path(sample(), "A", "A") == ["A"]
    with pytest.raises(NoPathError):
        fewest_hops_path(sample(), "F", "A")
