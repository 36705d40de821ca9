"""Injectable clocks so cache expiry can be tested without the wall clock."""

from __future__ import annotations


class ManualClock:
    """A clock whose time only moves when told to.

    Instances are callable and return the current time as a float, which
    makes them a drop-in replacement for ``time.monotonic``.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot move backwards")
        self._now += seconds
        return self._now

    @property
    def now(self) -> float:
        return self._now
