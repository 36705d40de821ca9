"""Sliding-window statistics on top of :class:`ring_buffer.RingBuffer`."""

from __future__ import annotations

import math
from typing import Iterable

from ring_buffer import RingBuffer


class RollingStats:
    """Statistics over the most recent ``window`` samples.

    The running sum makes the mean O(1); variance, min and max scan the
    window, which is fine for the modest window sizes this is meant for.
    """

    def __init__(self, window: int) -> None:
        self._buf = RingBuffer(window)
        self._sum = 0.0

    def add(self, value: float) -> None:
        was_full = self._buf.is_full()
        dropped = self._buf.append(value)
        if was_full:
            self._sum -= dropped
        self._sum += value

    @property
    def window(self) -> int:
        return self._buf.capacity

    @property
    def count(self) -> int:
        return len(self._buf)

    def _require_data(self) -> None:
        if not len(self._buf):
            raise ValueError("no samples in window")

    def mean(self) -> float:
        self._require_data()
        return self._sum / len(self._buf)

    def variance(self) -> float:
        """Population variance of the current window."""
        self._require_data()
        m = self.mean()
        return sum((x - m) ** 2 for x in self._buf) / len(self._buf)

    def stddev(self) -> float:
        return math.sqrt(self.variance())

    def minimum(self) -> float:
        self._require_data()
        return min(self._buf)

    def maximum(self) -> float:
        self._require_data()
        return max(self._buf)

    def values(self) -> list[float]:
        return self._buf.to_list()


def moving_average(values: Iterable[float], window: int) -> list[float]:
    """Average of each full window; yields ``len(values) - window + 1`` numbers."""
    stats = RollingStats(window)
    out: list[float] = []
    for v in values:
        stats.add(v)
        if stats.count == window:
            out.append(stats.mean())
    return out


def ewma(values: Iterable[float], alpha: float) -> list[float]:
    """Exponentially weighted moving average seeded with the first value."""
    if not 0 < alpha <= 1:
        raise ValueError("alpha must be in (0, 1]")
    out: list[float] = []
    for v in values:
        out.append(v if not out else alpha * v + (1 - alpha) * out[-1])
    return out
