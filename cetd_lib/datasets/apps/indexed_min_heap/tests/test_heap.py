import pytest

from indexed_heap import IndexedMinHeap, heap_sort_by
from graph_paths import dijkstra, shortest_path


def test_push_pop_in_priority_order():
    h = IndexedMinHeap()
    for key, pr in [("c", 3), ("a", 1), ("e", 5), ("b", 2), ("d", 4)]:
        h.push(key, pr)
    out = [h.pop() for _ in range(5)]
    assert out == [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)]
    assert len(h) == 0


def test_ties_pop_in_insertion_order():
    h = IndexedMinHeap()
    for key in ["x", "y", "z", "w"]:
        h.push(key, 7)
    assert [h.pop()[0] for _ in range(4)] == ["x", "y", "z", "w"]


def test_peek_does_not_remove():
    h = IndexedMinHeap()
    h.push("a", 2)
    h.push("b", 1)
    assert h.peek() == ("b", 1)
    assert len(h) == 2


def test_empty_heap_errors():
    h = IndexedMinHeap()
    assert not h
    with pytest.raises(IndexError):
        h.pop()
    with pytest.raises(IndexError):
        h.peek()


def test_duplicate_push_raises():
    h = IndexedMinHeap()
    h.push("a", 1)
    with pytest.raises(ValueError):
        h.push("a", 2)


def test_decrease_key_moves_to_front():
    h = IndexedMinHeap()
    h.push("a", 10)
    h.push("b", 20)
    h.push("c", 30)
    h.decrease_key("c", 5)
    assert h.priority_of("c") == 5
    assert h.pop() == ("c", 5)


def test_decrease_key_errors():
    h = IndexedMinHeap()
    h.push("a", 10)
    with pytest.raises(ValueError):
        h.decrease_key("a", 11)
    with pytest.raises(KeyError):
        h.decrease_key("zz", 1)
    with pytest.raises(KeyError):
        h.priority_of("zz")


def test_update_both_directions_and_insert():
    h = IndexedMinHeap()
    h.push("a", 1)
    h.push("b", 2)
    h.update("a", 50)
    h.update("new", 0)
    assert [h.pop() for _ in range(3)] == [("new", 0), ("b", 2), ("a", 50)]


def test_remove_arbitrary_key():
    h = IndexedMinHeap()
    for i, key in enumerate("abcdef"):
        h.push(key, i)
    assert h.remove("c") == 2
    assert "c" not in h
    assert "d" in h
    assert [h.pop()[0] for _ in range(len(h))] == ["a", "b", "d", "e", "f"]
    with pytest.raises(KeyError):
        h.remove("c")


def test_heap_sort_by_is_stable():
    assert heap_sort_by({"p": 3, "q": 1, "r": 3, "s": 0}) == ["s", "q", "p", "r"]
    assert heap_sort_by({}) == []


GRAPH = {
    "A": {"B": 4, "C": 1},
    "C": {"B": 2, "D": 7},
    "B": {"D": 1},
    "D": {},
    "E": {"A": 1},
}


def test_dijkstra_distances():
    assert dijkstra(GRAPH, "A") == {"A": 0, "B": 3, "C": 1, "D": 4}


def test_shortest_path_and_unreachable():
    assert shortest_path(GRAPH, "A", "D") == ["A", "C", "B", "D"]
    assert shortest_path(GRAPH, "A", "A") == ["A"]
    assert shortest_path(GRAPH, "A", "E") == []


def test_dijkstra_errors():
    with pytest.raises(KeyError):
        dijkstra(GRAPH, "Z")
    with pytest.raises(ValueError):
        dijkstra({"A": {"B": -1}, "B": {}}, "A")
