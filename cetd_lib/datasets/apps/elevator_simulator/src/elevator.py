"""A single elevator car driven by the LOOK scheduling strategy.

Time advances in ticks. In each tick the car either serves a stop on its
current floor or moves exactly one floor.
"""
from __future__ import annotations

from enum import Enum


class Direction(Enum):
    UP = "up"
    DOWN = "down"
    IDLE = "idle"


class Elevator:
    def __init__(self, min_floor: int = 0, max_floor: int = 9, start: int = 0) -> None:
        if min_floor >= max_floor:
            raise ValueError("need at least two floors")
        if not min_floor <= start <= max_floor:
            raise ValueError("start floor out of range")
        self.min_floor = min_floor
        self.max_floor = max_floor
        self.floor = start
        self.direction = Direction.IDLE
        self._stops: set[int] = set()
        self.moves = 0  # floors travelled so far

    @property
    def pending(self) -> list[int]:
        return sorted(self._stops)

    def call(self, floor: int) -> None:
        """Register a stop (hall call or car button) at ``floor``."""
        if not self.min_floor <= floor <= self.max_floor:
            raise ValueError(f"floor {floor} does not exist")
        self._stops.add(floor)

    def _serve(self, floor: int) -> int:
        self._stops.discard(floor)
        if not self._stops:
            self.direction = Direction.IDLE
        return floor

    def _choose_direction(self) -> None:
        above = any(s > self.floor for s in self._stops)
        below = any(s < self.floor for s in self._stops)
        if self.direction is Direction.UP and not above:
            self.direction = Direction.DOWN
        elif self.direction is Direction.DOWN and not below:
            self.direction = Direction.UP
        elif self.direction is Direction.IDLE:
            nearest = min(self._stops, key=lambda s: (abs(s - self.floor), -s))
            self.direction = Direction.UP if nearest > self.floor else Direction.DOWN

    def step(self) -> int | None:
        """Advance one tick; return the floor served in this tick, if any."""
        if not self._stops:
            self.direction = Direction.IDLE
            return None
        if self.floor in self._stops:
            return self._serve(self.floor)
        self._choose_direction()
        self.floor += 1 if self.direction is Direction.UP else -1
        self.moves += 1
        if self.floor in self._stops:
            return self._serve(self.floor)
        return None

    def run_until_idle(self, max_ticks: int = 10_000) -> list[int]:
        """Step until no stops remain; return floors in the order served."""
        served: list[int] = []
        for _ in range(max_ticks):
            if not self._stops:
                break
            floor = self.step()
            if floor is not None:
                served.append(floor)
        else:
            if self._stops:
                raise RuntimeError("elevator did not settle")
        return served
