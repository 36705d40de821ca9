"""Classic token bucket: holds up to `capacity` tokens, refilled continuously."""
from __future__ import annotations

import math
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class RateLimitExceeded(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit exceeded; retry after {retry_after:.3f}s")
        self.retry_after = retry_after


class TokenBucket:
    def __init__(self, capacity: float, refill_rate: float, clock: Clock) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        if refill_rate < 0:
            raise ValueError("refill_rate cannot be negative")
        self.capacity = float(capacity)
        self.refill_rate = float(refill_rate)
        self._clock = clock
        self._tokens = float(capacity)
        self._stamp = clock.now()

    def _refill(self) -> None:
        now = self._clock.now()
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.refill_rate)
        self._stamp = max(self._stamp, now)

    def _check_request(self, tokens: float) -> None:
        if tokens <= 0:
            raise ValueError("tokens must be positive")
        if tokens > self.capacity:
            raise ValueError("request larger than bucket capacity")

    def available(self) -> float:
        self._refill()
        return self._tokens

    def is_full(self) -> bool:
        return self.available() >= self.capacity

    def try_consume(self, tokens: float = 1) -> bool:
        self._check_request(tokens)
        self._refill()
        if self._tokens + 1e-9 >= tokens:
            self._tokens = max(0.0, self._tokens - tokens)
            return True
        return False

    def time_until_available(self, tokens: float = 1) -> float:
        self._check_request(tokens)
        self._refill()
        missing = tokens - self._tokens
        if missing <= 1e-9:
            return 0.0
        if self.refill_rate == 0:
            return math.inf
        return missing / self.refill_rate

    def consume(self, tokens: float = 1) -> None:
        if not self.try_consume(tokens):
            raise RateLimitExceeded(self.time_until_available(tokens))
