"""Per-key rate limiting built from token buckets, plus rate-string parsing."""
from __future__ import annotations

from typing import Hashable

from bucket import Clock, TokenBucket

_UNIT_SECONDS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hr": 3600, "hour": 3600,
    "d": 86400, "day": 86400,
}


def parse_rate(text: str) -> tuple[int, float]:
    """'60/m' -> (60, 1.0): burst capacity and refill rate in tokens per second."""
    try:
        count_part, unit_part = text.split("/")
        count = int(count_part.strip())
    except ValueError:
        raise ValueError(f"bad rate: {text!r}") from None
    unit = unit_part.strip().lower()
    if unit not in _UNIT_SECONDS or count <= 0:
        raise ValueError(f"bad rate: {text!r}")
    return count, count / _UNIT_SECONDS[unit]


class KeyedRateLimiter:
    """One lazily created bucket per key (user id, IP address, ...)."""

    def __init__(self, capacity: float, refill_rate: float, clock: Clock) -> None:
        # validate eagerly by building a throwaway bucket
        TokenBucket(capacity, refill_rate, clock)
        self.capacity = capacity
        self.refill_rate = refill_rate
        self._clock = clock
        self._buckets: dict[Hashable, TokenBucket] = {}

    @classmethod
    def from_rate(cls, rate: str, clock: Clock) -> "KeyedRateLimiter":
        capacity, per_second = parse_rate(rate)
        return cls(capacity, per_second, clock)

    def _bucket(self, key: Hashable) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.capacity, self.refill_rate, self._clock)
            self._buckets[key] = bucket
        return bucket

    def allow(self, key: Hashable, cost: float = 1) -> bool:
        return self._bucket(key).try_consume(cost)

    def retry_after(self, key: Hashable, cost: float = 1) -> float:
        if key not in self._buckets:
            return 0.0
        return self._buckets[key].time_until_available(cost)

    def tracked_keys(self) -> list[Hashable]:
        return list(self._buckets)

    def purge_full(self) -> int:
        """Forget keys whose bucket has refilled completely; returns how many."""
        full = [k for k, b in self._buckets.items() if b.is_full()]
        for k in full:
            del self._buckets[k]
        return len(full)
