import math

import pytest

from ring_buffer import RingBuffer
from rolling import RollingStats, ewma, moving_average


def test_append_until_full():
    rb = RingBuffer(3)
    assert rb.capacity == 3
    assert rb.append("a") is None
    rb.append("b")
    assert not rb.is_full()
    rb.append("c")
    assert rb.is_full()
    assert rb.to_list() == ["a", "b", "c"]


def test_overwrite_returns_dropped_oldest():
    rb = RingBuffer(2)
    rb.extend([1, 2])
    assert rb.append(3) == 1
    assert rb.append(4) == 2
    assert list(rb) == [3, 4]
    assert len(rb) == 2


def test_indexing_including_negative():
    rb = RingBuffer(4)
    rb.extend(range(10))
    assert rb[0] == 6
    assert rb[3] == 9
    assert rb[-1] == 9
    assert rb[-4] == 6
    with pytest.raises(IndexError):
        rb[4]
    with pytest.raises(IndexError):
        rb[-5]


def test_popleft_and_clear():
    rb = RingBuffer(3)
    rb.extend("xyzw")
    assert rb.popleft() == "y"
    assert rb.to_list() == ["z", "w"]
    rb.append("v")
    assert rb.to_list() == ["z", "w", "v"]
    rb.clear()
    assert len(rb) == 0
    with pytest.raises(IndexError):
        rb.popleft()


def test_invalid_capacity():
    with pytest.raises(ValueError):
        RingBuffer(0)
    with pytest.raises(ValueError):
        RollingStats(0)


def test_rolling_mean_over_window():
    s = RollingStats(3)
    assert s.window == 3
    for v in [1, 2, 3, 4, 5]:
        s.add(v)
    assert s.count == 3
    assert s.values() == [3, 4, 5]
    assert s.mean() == pytest.approx(4.0)


def test_rolling_variance_is_population():
    s = RollingStats(10)
    for v in [2, 4, 4, 4, 5, 5, 7, 9]:
        s.add(v)
    assert s.variance() == pytest.approx(4.0)
    assert s.stddev() == pytest.approx(2.0)


def test_rolling_min_max_follow_window():
    s = RollingStats(2)
    for v in [9, 1, 5, 6]:
        s.add(v)
    assert s.minimum() == 5
    assert s.maximum() == 6


def test_empty_stats_raise():
    s = RollingStats(4)
    for method in (s.mean, s.variance, s.stddev, s.minimum, s.maximum):
        with pytest.raises(ValueError):
            method()


def test_moving_average():
    assert moving_average([1, 2, 3, 4, 5, 6], 3) == pytest.approx([2, 3, 4, 5])
    assert moving_average([1, 2], 5) == []
    assert moving_average([10, 20], 1) == pytest.approx([10, 20])


def test_moving_average_handles_floats_without_drift():
    data = [0.1] * 1000
    result = moving_average(data, 7)
    assert len(result) == 994
    assert all(math.isclose(x, 0.1, rel_tol=1e-6) for x in result)


def test_ewma():
    assert ewma([10, 20, 30], 0.5) == pytest.approx([10, 15, 22.5])
    assert ewma([], 0.3) == []
    assert ewma([4, 8], 1) == pytest.approx([4, 8])


def test_ewma_invalid_alpha():
    with pytest.raises(ValueError):
        ewma([1], 0)
    with pytest.raises(ValueError):
        ewma([1], 1.5)
