"""Injectable clocks.  The limiter never reads the wall clock itself."""
from __future__ import annotations


class ManualClock:
    """A clock that only moves when told to - ideal for tests and simulations."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("cannot move a clock backwards")
        self._now += seconds
        return self._now

    def set(self, timestamp: float) -> None:
        if timestamp < self._now:
            raise ValueError("cannot move a clock backwards")
        self._now = float(timestamp)
