"""Basic data types for the CPU scheduling simulator."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class Process:
    pid: str
    arrival: int
    burst: int

    def __post_init__(self) -> None:
        if self.arrival < 0:
            raise ValueError("arrival time cannot be negative")
        if self.burst <= 0:
            raise ValueError("burst time must be positive")


class Slice(NamedTuple):
    """A stretch of CPU time given to one process: [start, end)."""

    pid: str
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start
