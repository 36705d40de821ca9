import pytest

from lfu import LFUCache
from workload import compare_policies, parse_trace, simulate_lfu, simulate_lru


def test_basic_get_put():
    c = LFUCache(2)
    c.put("a", 1)
    assert c.get("a") == 1
    assert c.get("zz") is None
    assert c.get("zz", 0) == 0
    assert len(c) == 1


def test_evicts_least_frequent():
    c = LFUCache(2)
    c.put("a", 1)
    c.put("b", 2)
    c.get("a")
    c.put("c", 3)
    assert "b" not in c
    assert "a" in c and "c" in c


def test_tie_broken_by_least_recent():
    c = LFUCache(3)
    c.put("a", 1)
    c.put("b", 2)
    c.put("c", 3)
    c.get("a")
    c.get("b")
    c.get("c")
    c.put("d", 4)
    assert "a" not in c
    assert sorted(["b", "c", "d"]) == sorted(k for k in "abcd" if k in c)


def test_new_entry_is_evicted_before_older_frequent_ones():
    c = LFUCache(2)
    c.put("hot", 1)
    c.get("hot")
    c.put("x", 2)
    c.put("y", 3)
    assert "x" not in c
    assert "hot" in c and "y" in c


def test_put_existing_updates_and_counts_as_use():
    c = LFUCache(2)
    c.put("a", 1)
    c.put("a", 10)
    assert c.frequency("a") == 2
    c.put("b", 2)
    c.put("c", 3)
    assert c.get("a") == 10
    assert "b" not in c


def test_frequency_tracking_and_missing():
    c = LFUCache(3)
    c.put("k", 0)
    for _ in range(4):
        c.get("k")
    assert c.frequency("k") == 5
    with pytest.raises(KeyError):
        c.frequency("nope")


def test_contains_does_not_count_as_use():
    c = LFUCache(2)
    c.put("a", 1)
    assert "a" in c
    assert c.frequency("a") == 1
    assert c.hits == 0 and c.misses == 0


def test_hit_miss_counters():
    c = LFUCache(1)
    c.put("a", 1)
    c.get("a")
    c.get("b")
    c.get("a")
    assert (c.hits, c.misses) == (2, 1)


def test_on_evict_callback():
    evicted = []
    c = LFUCache(1, on_evict=lambda k, v: evicted.append((k, v)))
    c.put("a", 1)
    c.put("b", 2)
    c.put("c", 3)
    assert evicted == [("a", 1), ("b", 2)]


def test_invalid_capacity():
    with pytest.raises(ValueError):
        LFUCache(0)


def test_most_frequent_ordering():
    c = LFUCache(5)
    for k in "abcd":
        c.put(k, k)
    for k in "ccbbbd":
        c.get(k)
    # b:4, c:3, d:2, a:1 ; ties by most recent first
    assert c.most_frequent(2) == ["b", "c"]
    c.get("d")
    assert c.most_frequent(10) == ["b", "d", "c", "a"]


def test_simulate_lfu_and_lru():
    trace = ["a", "b", "a", "c", "a", "d", "b", "a"]
    assert simulate_lfu(2, trace) == (3, 5)
    assert simulate_lru(2, trace) == (2, 6)
    assert compare_policies(2, trace) == {"lfu": 3, "lru": 2}


def test_parse_trace():
    assert parse_trace("a, b  c,,d\n e") == ["a", "b", "c", "d", "e"]
    assert parse_trace("") == []
    with pytest.raises(ValueError):
        simulate_lru(0, ["a"])
