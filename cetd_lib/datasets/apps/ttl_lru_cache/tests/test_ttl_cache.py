import pytest

from clock import ManualClock
from ttl_cache import TTLCache, memoize


def make(capacity=3, ttl=10.0, start=0.0):
    clock = ManualClock(start)
    return TTLCache(capacity, ttl, clock), clock


def test_manual_clock_advances_and_rejects_negative():
    clock = ManualClock(5.0)
    assert clock() == 5.0
    assert clock.advance(2.5) == pytest.approx(7.5)
    assert clock.now == pytest.approx(7.5)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_put_and_get_basic():
    cache, _ = make()
    cache.put("a", 1)
    assert cache.get("a") == 1
    assert cache.get("missing") is None
    assert cache.get("missing", "dflt") == "dflt"


def test_entry_expires_exactly_at_deadline():
    cache, clock = make(ttl=5.0)
    cache.put("a", 1)
    clock.advance(4.5)
    assert cache.get("a") == 1
    clock.advance(0.5)
    assert cache.get("a") is None
    assert "a" not in cache


def test_per_entry_ttl_overrides_default():
    cache, clock = make(ttl=100.0)
    cache.put("short", 1, ttl=1.0)
    cache.put("long", 2)
    clock.advance(2.0)
    assert cache.get("short") is None
    assert cache.get("long") == 2


def test_lru_eviction_respects_recent_gets():
    cache, _ = make(capacity=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    assert "b" not in cache
    assert cache.keys() == ["a", "c"]
    assert cache.evictions == 1


def test_expired_entries_are_purged_before_evicting():
    cache, clock = make(capacity=2)
    cache.put("old", 1, ttl=1.0)
    cache.put("fresh", 2)
    clock.advance(5.0)
    cache.put("new", 3)
    assert cache.evictions == 0
    assert cache.keys() == ["fresh", "new"]


def test_overwrite_refreshes_value_expiry_and_recency():
    cache, clock = make(capacity=2, ttl=10.0)
    cache.put("a", 1)
    cache.put("b", 2)
    clock.advance(8.0)
    cache.put("a", 11)
    clock.advance(5.0)
    assert cache.get("a") == 11
    assert cache.get("b") is None
    assert cache.keys() == ["a"]


def test_hit_and_miss_counters():
    cache, clock = make()
    assert cache.hit_ratio() == 0.0
    cache.put("a", 1)
    cache.get("a")
    cache.get("a")
    cache.get("zzz")
    clock.advance(100)
    cache.get("a")
    assert cache.hits == 2
    assert cache.misses == 2
    assert cache.hit_ratio() == pytest.approx(0.5)


def test_len_ignores_expired_and_purge_counts():
    cache, clock = make(capacity=5)
    cache.put("a", 1, ttl=1.0)
    cache.put("b", 2, ttl=3.0)
    cache.put("c", 3)
    clock.advance(2.0)
    assert len(cache) == 2
    assert cache.purge_expired() == 1
    assert cache.purge_expired() == 0


def test_delete_and_clear():
    cache, _ = make()
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.delete("a") is True
    assert cache.delete("a") is False
    cache.clear()
    assert len(cache) == 0


def test_ttl_remaining():
    cache, clock = make(ttl=10.0)
    cache.put("a", 1)
    clock.advance(3.0)
    assert cache.ttl_remaining("a") == pytest.approx(7.0)
    assert cache.ttl_remaining("nope") is None
    clock.advance(7.0)
    assert cache.ttl_remaining("a") is None


def test_contains_does_not_touch_recency_or_stats():
    cache, _ = make(capacity=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert "a" in cache
    cache.put("c", 3)
    assert "a" not in cache
    assert cache.hits == 0 and cache.misses == 0


def test_invalid_construction_and_ttl():
    clock = ManualClock()
    with pytest.raises(ValueError):
        TTLCache(0, 1.0, clock)
    with pytest.raises(ValueError):
        TTLCache(2, 0, clock)
    cache = TTLCache(2, 1.0, clock)
    with pytest.raises(ValueError):
        cache.put("x", 1, ttl=-5)


def test_memoize_caches_until_expiry():
    cache, clock = make(capacity=10, ttl=5.0)
    calls = []

    @memoize(cache)
    def square(n):
        calls.append(n)
        return n * n

    assert square(4) == 16
    assert square(4) == 16
    assert square(5) == 25
    assert calls == [4, 5]
    clock.advance(5.0)
    assert square(4) == 16
    assert calls == [4, 5, 4]
    assert square.__name__ == "square"
