import pytest

from intervals import (
    Interval,
    IntervalSet,
    find_gaps,
    intersect,
    merge_intervals,
    parse_interval,
    total_covered,
)


def iv(a, b):
    return Interval(a, b)


def test_interval_basics():
    x = iv(2, 5)
    assert x.length == 3
    assert x.contains(2)
    assert not x.contains(5)
    assert str(x) == "[2, 5)"


def test_invalid_interval_raises():
    with pytest.raises(ValueError):
        Interval(3, 3)
    with pytest.raises(ValueError):
        Interval(5, 1)


def test_overlaps_is_strict_for_half_open():
    assert iv(1, 3).overlaps(iv(2, 4))
    assert not iv(1, 3).overlaps(iv(3, 4))
    assert iv(1, 3).touches(iv(3, 4))


def test_merge_overlapping_and_adjacent():
    got = merge_intervals([iv(5, 8), iv(1, 3), iv(2, 4), iv(8, 9), iv(11, 12)])
    assert got == [iv(1, 4), iv(5, 9), iv(11, 12)]
    assert merge_intervals([]) == []


def test_merge_nested():
    assert merge_intervals([iv(1, 10), iv(2, 3), iv(4, 5)]) == [iv(1, 10)]


def test_total_covered():
    assert total_covered([iv(0, 2), iv(1, 3), iv(10, 11)]) == 4


def test_find_gaps():
    gaps = find_gaps([iv(2, 4), iv(6, 7), iv(3, 5)], 0, 10)
    assert gaps == [iv(0, 2), iv(5, 6), iv(7, 10)]
    assert find_gaps([iv(-5, 50)], 0, 10) == []
    assert find_gaps([], 1, 2) == [iv(1, 2)]
    with pytest.raises(ValueError):
        find_gaps([], 3, 3)


def test_intersect():
    a = [iv(0, 5), iv(8, 12)]
    b = [iv(3, 9), iv(11, 20)]
    assert intersect(a, b) == [iv(3, 5), iv(8, 9), iv(11, 12)]
    assert intersect(a, [iv(5, 8)]) == []


def test_parse_interval():
    assert parse_interval("3-7") == iv(3, 7)
    assert parse_interval(" 10..20 ") == iv(10, 20)
    with pytest.raises(ValueError):
        parse_interval("abc")
    with pytest.raises(ValueError):
        parse_interval("9-2")


def test_interval_set_add_merges():
    s = IntervalSet([iv(1, 2)])
    s.add(iv(5, 6))
    s.add(iv(2, 5))
    assert s.intervals() == [iv(1, 6)]
    assert len(s) == 1


def test_interval_set_remove_splits():
    s = IntervalSet([iv(0, 10)])
    s.remove(iv(3, 4))
    assert s.intervals() == [iv(0, 3), iv(4, 10)]
    s.remove(iv(-1, 1))
    s.remove(iv(9, 100))
    assert list(s) == [iv(1, 3), iv(4, 9)]
    assert s.measure() == 7


def test_interval_set_membership():
    s = IntervalSet([iv(0, 1), iv(5, 6)])
    assert 0 in s
    assert 0.5 in s
    assert 1 not in s
    assert 5.99 in s
    assert 3 not in s


def test_intervals_sort_by_start_then_end():
    assert sorted([iv(2, 3), iv(1, 9), iv(1, 2)]) == [iv(1, 2), iv(1, 9), iv(2, 3)]
