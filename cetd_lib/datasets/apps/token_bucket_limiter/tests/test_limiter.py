import math

import pytest

from bucket import RateLimitExceeded, TokenBucket
from clock import ManualClock
from limiter import KeyedRateLimiter, parse_rate


def test_manual_clock_advance_and_set():
    clock = ManualClock(10.0)
    assert clock.now() == 10.0
    clock.advance(2.5)
    assert clock.now() == 12.5
    clock.set(20)
    assert clock.now() == 20.0
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(5)


def test_bucket_starts_full_and_drains():
    clock = ManualClock()
    bucket = TokenBucket(3, 1.0, clock)
    assert bucket.available() == pytest.approx(3.0)
    assert [bucket.try_consume() for _ in range(4)] == [True, True, True, False]
    assert bucket.available() == pytest.approx(0.0)


def test_bucket_refills_over_time_up_to_capacity():
    clock = ManualClock()
    bucket = TokenBucket(4, 0.5, clock)
    assert bucket.try_consume(4)
    clock.advance(2)
    assert bucket.available() == pytest.approx(1.0)
    clock.advance(100)
    assert bucket.available() == pytest.approx(4.0)
    assert bucket.is_full()


def test_multi_token_requests():
    clock = ManualClock()
    bucket = TokenBucket(5, 1.0, clock)
    assert bucket.try_consume(3)
    assert not bucket.try_consume(3)
    assert bucket.available() == pytest.approx(2.0)
    clock.advance(1)
    assert bucket.try_consume(3)


def test_invalid_requests_and_construction():
    clock = ManualClock()
    with pytest.raises(ValueError):
        TokenBucket(0, 1.0, clock)
    with pytest.raises(ValueError):
        TokenBucket(5, -1.0, clock)
    bucket = TokenBucket(5, 1.0, clock)
    with pytest.raises(ValueError):
        bucket.try_consume(0)
    with pytest.raises(ValueError):
        bucket.try_consume(6)


def test_time_until_available():
    clock = ManualClock()
    bucket = TokenBucket(2, 0.25, clock)
    assert bucket.time_until_available() == 0.0
    bucket.try_consume(2)
    assert bucket.time_until_available() == pytest.approx(4.0)
    assert bucket.time_until_available(2) == pytest.approx(8.0)
    clock.advance(1)
    assert bucket.time_until_available() == pytest.approx(3.0)


def test_zero_refill_rate_never_recovers():
    clock = ManualClock()
    bucket = TokenBucket(1, 0.0, clock)
    assert bucket.try_consume()
    clock.advance(1000)
    assert not bucket.try_consume()
    assert bucket.time_until_available() == math.inf


def test_consume_raises_with_retry_after():
    clock = ManualClock()
    bucket = TokenBucket(1, 2.0, clock)
    bucket.consume()
    with pytest.raises(RateLimitExceeded) as info:
        bucket.consume()
    assert info.value.retry_after == pytest.approx(0.5)


def test_parse_rate():
    assert parse_rate("10/s") == (10, pytest.approx(10.0))
    assert parse_rate("60/m") == (60, pytest.approx(1.0))
    assert parse_rate(" 120 / minute ") == (120, pytest.approx(2.0))
    assert parse_rate("7200/h") == (7200, pytest.approx(2.0))
    assert parse_rate("86400/day") == (86400, pytest.approx(1.0))


def test_parse_rate_rejects_garbage():
    for bad in ["10", "10/fortnight", "abc/s", "0/s", "-5/s", "1/2/s"]:
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_keyed_limiter_isolates_keys():
    clock = ManualClock()
    limiter = KeyedRateLimiter(2, 1.0, clock)
    assert limiter.allow("alice")
    assert limiter.allow("alice")
    assert not limiter.allow("alice")
    assert limiter.allow("bob")
    assert limiter.tracked_keys() == ["alice", "bob"]


def test_keyed_limiter_retry_after_and_recovery():
    clock = ManualClock()
    limiter = KeyedRateLimiter.from_rate("2/s", clock)
    assert limiter.retry_after("nobody") == 0.0
    limiter.allow("k")
    limiter.allow("k")
    assert limiter.retry_after("k") == pytest.approx(0.5)
    clock.advance(0.5)
    assert limiter.allow("k")


def test_purge_full_forgets_recovered_keys():
    clock = ManualClock()
    limiter = KeyedRateLimiter(2, 1.0, clock)
    limiter.allow("a")
    clock.advance(0.5)
    limiter.allow("b")
    clock.advance(0.5)
    assert limiter.purge_full() == 1
    assert limiter.tracked_keys() == ["b"]
    clock.advance(10)
    assert limiter.purge_full() == 1
    assert limiter.tracked_keys() == []


def test_invalid_limiter_configuration():
    with pytest.raises(ValueError):
        KeyedRateLimiter(0, 1.0, ManualClock())
