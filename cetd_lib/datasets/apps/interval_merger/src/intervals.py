"""Half-open numeric intervals and set operations over collections of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator


@dataclass(frozen=True, order=True)
class Interval:
    """The half-open range ``[start, end)``; ``start`` must be below ``end``."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"invalid interval [{self.start}, {self.end})")

    @property
    def length(self) -> float:
        return self.end - self.start

    def contains(self, point: float) -> bool:
        return self.start <= point < self.end

    def overlaps(self, other: "Interval") -> bool:
        return self.start < other.end and other.start < self.end

    def touches(self, other: "Interval") -> bool:
        """True when the intervals overlap or share an endpoint."""
        return self.start <= other.end and other.start <= self.end

    def __str__(self) -> str:
        return f"[{self.start}, {self.end})"


def parse_interval(text: str) -> Interval:
    """Parse ``"a-b"`` or ``"a..b"`` (integers, surrounding spaces allowed)."""
    cleaned = text.strip()
    sep = ".." if ".." in cleaned else "-"
    left, found, right = cleaned.partition(sep)
    if not found:
        raise ValueError(f"cannot parse interval: {text!r}")
    try:
        return Interval(int(left.strip()), int(right.strip()))
    except ValueError as exc:
        raise ValueError(f"cannot parse interval: {text!r}") from exc


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for iv in sorted(intervals):
        if merged and merged[-1].touches(iv):
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, iv.end))
        else:
            merged.append(iv)
    return merged


def total_covered(intervals: Iterable[Interval]) -> float:
    return sum(iv.length for iv in merge_intervals(intervals))


def find_gaps(intervals: Iterable[Interval], lo: float, hi: float) -> list[Interval]:
    """Sub-ranges of ``[lo, hi)`` not covered by any interval."""
    if lo >= hi:
        raise ValueError("lo must be below hi")
    gaps: list[Interval] = []
    cursor = lo
    for iv in merge_intervals(intervals):
        if iv.end <= cursor:
            continue
        if iv.start >= hi:
            break
        if iv.start > cursor:
            gaps.append(Interval(cursor, iv.start))
        cursor = max(cursor, iv.end)
    if cursor < hi:
        gaps.append(Interval(cursor, hi))
    return gaps


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """Intersection of two interval collections, as merged intervals."""
    left, right = merge_intervals(a), merge_intervals(b)
    i = j = 0
    out: list[Interval] = []
    while i < len(left) and j < len(right):
        start = max(left[i].start, right[j].start)
        end = min(left[i].end, right[j].end)
        if start < end:
            out.append(Interval(start, end))
        if left[i].end < right[j].end:
            i += 1
        else:
            j += 1
    return out


class IntervalSet:
    """A mutable union of intervals kept in merged, sorted form."""

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        self._items = merge_intervals(intervals)

    def add(self, interval: Interval) -> None:
        self._items = merge_intervals(self._items + [interval])

    def remove(self, interval: Interval) -> None:
        kept: list[Interval] = []
        for iv in self._items:
            if not iv.overlaps(interval):
                kept.append(iv)
                continue
            if iv.start < interval.start:
                kept.append(Interval(iv.start, interval.start))
            if interval.end < iv.end:
                kept.append(Interval(interval.end, iv.end))
        self._items = kept

    def __contains__(self, point: object) -> bool:
        return any(iv.contains(point) for iv in self._items)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Interval]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def intervals(self) -> list[Interval]:
        return list(self._items)

    def measure(self) -> float:
        return sum(iv.length for iv in self._items)
