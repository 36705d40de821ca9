import random

import pytest

from skiplist import SkipListMap, count_in_range, from_pairs, merge


def test_set_get_and_overwrite():
    m = SkipListMap()
    m[5] = "five"
    m[1] = "one"
    m[5] = "FIVE"
    assert m[5] == "FIVE"
    assert m[1] == "one"
    assert len(m) == 2


def test_missing_key_raises_and_get_default():
    m = SkipListMap()
    m["a"] = 1
    with pytest.raises(KeyError):
        m["b"]
    assert m.get("b") is None
    assert m.get("b", 0) == 0
    assert m.get("a") == 1


def test_iteration_is_sorted():
    m = from_pairs([(k, k * k) for k in [9, 3, 7, 1, 5]])
    assert list(m) == [1, 3, 5, 7, 9]
    assert m.keys() == [1, 3, 5, 7, 9]
    assert m.values() == [1, 9, 25, 49, 81]
    assert m.items()[0] == (1, 1)


def test_delete_and_pop():
    m = from_pairs([("a", 1), ("b", 2), ("c", 3)])
    del m["b"]
    assert "b" not in m
    assert m.pop("a") == 1
    assert list(m) == ["c"]
    with pytest.raises(KeyError):
        del m["zzz"]
    with pytest.raises(KeyError):
        m.pop("a")


def test_matches_dict_under_random_operations():
    rng = random.Random(1234)
    m = SkipListMap(seed=7)
    ref = {}
    for _ in range(600):
        key = rng.randrange(80)
        if rng.random() < 0.65:
            m[key] = key * 2
            ref[key] = key * 2
        elif key in ref:
            del m[key]
            del ref[key]
    assert len(m) == len(ref)
    assert m.items() == sorted(ref.items())


def test_first_last_and_empty_errors():
    m = SkipListMap()
    with pytest.raises(KeyError):
        m.first_key()
    with pytest.raises(KeyError):
        m.last_key()
    with pytest.raises(KeyError):
        m.pop_first()
    for k in [40, 10, 30]:
        m[k] = str(k)
    assert m.first_key() == 10
    assert m.last_key() == 40


def test_pop_first_drains_in_order():
    m = from_pairs([(3, "c"), (1, "a"), (2, "b")])
    assert m.pop_first() == (1, "a")
    assert m.pop_first() == (2, "b")
    assert len(m) == 1


def test_floor_and_ceiling():
    m = from_pairs([(10, 0), (20, 0), (30, 0)])
    assert m.floor_key(25) == 20
    assert m.floor_key(20) == 20
    assert m.floor_key(5) is None
    assert m.ceiling_key(25) == 30
    assert m.ceiling_key(30) == 30
    assert m.ceiling_key(31) is None


def test_range_items_half_open():
    m = from_pairs([(k, chr(96 + k)) for k in range(1, 8)])
    assert m.range_items(3, 6) == [(3, "c"), (4, "d"), (5, "e")]
    assert m.range_items(None, 3) == [(1, "a"), (2, "b")]
    assert m.range_items(6) == [(6, "f"), (7, "g")]
    assert m.range_items(5, 5) == []
    assert count_in_range(m, 2, 100) == 6


def test_string_keys_ordering():
    m = from_pairs([("pear", 1), ("apple", 2), ("fig", 3)])
    assert list(m) == ["apple", "fig", "pear"]
    assert m.floor_key("banana") == "apple"


def test_from_pairs_later_wins_and_merge():
    a = from_pairs([(1, "x"), (2, "y"), (1, "z")])
    assert a[1] == "z"
    b = from_pairs([(2, "B"), (3, "C")])
    merged = merge(a, b)
    assert merged.items() == [(1, "z"), (2, "B"), (3, "C")]
    assert a[2] == "y"


def test_invalid_parameters():
    with pytest.raises(ValueError):
        SkipListMap(max_level=0)
    with pytest.raises(ValueError):
        SkipListMap(p=1.0)
    with pytest.raises(ValueError):
        SkipListMap(p=0)


def test_repr():
    m = from_pairs([(2, "b"), (1, "a")])
    assert repr(m) == "SkipListMap({1: 'a', 2: 'b'})"
    assert repr(SkipListMap()) == "SkipListMap({})"


def test_behaviour_independent_of_seed_and_level():
    pairs = [(k, -k) for k in [50, 20, 80, 10, 60]]
    x = SkipListMap(seed=1, max_level=1)
    y = SkipListMap(seed=99, max_level=8, p=0.25)
    for k, v in pairs:
        x[k] = v
        y[k] = v
    assert x.items() == y.items()
