import pytest

from disjoint_set import DisjointSet
from grouping import count_islands, group_pairs, kruskal, redundant_links


def test_add_creates_singletons():
    ds = DisjointSet([1, 2, 3])
    assert len(ds) == 3
    assert ds.group_count == 3
    assert ds.add(2) is False
    assert ds.add(4) is True
    assert ds.group_count == 4


def test_union_and_connected():
    ds = DisjointSet()
    assert ds.union("a", "b") is True
    assert ds.union("b", "c") is True
    assert ds.union("a", "c") is False
    assert ds.connected("a", "c")
    assert not ds.connected("a", "zzz")
    assert "c" in ds
    assert ds.group_count == 1


def test_find_unknown_raises():
    ds = DisjointSet([1])
    assert ds.find(1) == 1
    with pytest.raises(KeyError):
        ds.find(99)
    with pytest.raises(KeyError):
        ds.size_of(99)


def test_find_returns_same_root_for_group():
    ds = DisjointSet(range(6))
    ds.union(0, 1)
    ds.union(2, 3)
    ds.union(1, 3)
    assert ds.find(0) == ds.find(3) == ds.find(2)
    assert ds.find(4) != ds.find(0)


def test_size_of():
    ds = DisjointSet(range(5))
    ds.union(0, 1)
    ds.union(1, 2)
    assert ds.size_of(2) == 3
    assert ds.size_of(4) == 1


def test_groups_sorted():
    ds = DisjointSet([5, 3, 9, 1, 7])
    ds.union(9, 1)
    ds.union(7, 3)
    assert ds.groups() == [[1, 9], [3, 7], [5]]


def test_group_pairs():
    pairs = [("bob", "amy"), ("cat", "dan"), ("amy", "eve"), ("fay", "fay")]
    assert group_pairs(pairs) == [["amy", "bob", "eve"], ["cat", "dan"], ["fay"]]
    assert group_pairs([]) == []


def test_count_islands():
    grid = [
        "##..#",
        "#...#",
        "..#..",
        "....#",
    ]
    assert count_islands(grid) == 4
    assert count_islands(["....", "...."]) == 0
    assert count_islands([]) == 0


def test_count_islands_diagonal_not_connected():
    assert count_islands(["#.", ".#"]) == 2
    assert count_islands(["###", "#.#", "###"]) == 1


def test_count_islands_ragged_grid():
    with pytest.raises(ValueError):
        count_islands(["##", "#"])


def test_kruskal_picks_cheapest_tree():
    edges = [("a", "b", 4), ("a", "c", 1), ("b", "c", 2), ("c", "d", 5), ("b", "d", 3)]
    total, chosen = kruskal("abcd", edges)
    assert total == 6
    assert chosen == [("a", "c", 1), ("b", "c", 2), ("b", "d", 3)]


def test_kruskal_forest_and_unknown_node():
    total, chosen = kruskal([1, 2, 3, 4], [(1, 2, 1.5), (3, 4, 2.5)])
    assert total == pytest.approx(4.0)
    assert len(chosen) == 2
    with pytest.raises(KeyError):
        kruskal([1, 2], [(1, 3, 1)])


def test_redundant_links():
    pairs = [(1, 2), (2, 3), (3, 1), (4, 5), (5, 4), (1, 4)]
    assert redundant_links(pairs) == [(3, 1), (5, 4)]
