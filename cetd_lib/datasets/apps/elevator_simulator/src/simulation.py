"""Replay a timed list of requests against an elevator."""
from __future__ import annotations

from dataclasses import dataclass

from elevator import Elevator


@dataclass(frozen=True)
class Request:
    tick: int
    floor: int


def simulate(
    requests: list[tuple[int, int]],
    min_floor: int = 0,
    max_floor: int = 9,
    start: int = 0,
) -> list[tuple[int, int]]:
    """Run a simulation and return ``(tick, floor)`` for every stop served.

    At each tick, the requests whose tick equals the current tick are
    registered first, then the elevator performs one step. The run ends once
    every request has been released and the car has no pending stops.
    """
    queue = sorted((Request(t, f) for t, f in requests), key=lambda r: r.tick)
    if queue and queue[0].tick < 0:
        raise ValueError("request ticks must be non-negative")
    car = Elevator(min_floor, max_floor, start)
    served: list[tuple[int, int]] = []
    tick = 0
    i = 0
    while i < len(queue) or car.pending:
        while i < len(queue) and queue[i].tick == tick:
            car.call(queue[i].floor)
            i += 1
        floor = car.step()
        if floor is not None:
            served.append((tick, floor))
        tick += 1
    return served


def average_wait(requests: list[tuple[int, int]], served: list[tuple[int, int]]) -> float:
    """Mean ticks between each request and the first service of its floor after it."""
    if not requests:
        return 0.0
    total = 0
    for req_tick, floor in requests:
        done = [t for t, f in served if f == floor and t >= req_tick]
        if not done:
            raise ValueError(f"request for floor {floor} was never served")
        total += min(done) - req_tick
    return total / len(requests)
