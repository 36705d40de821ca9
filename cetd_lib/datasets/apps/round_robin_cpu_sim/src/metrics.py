"""Turn a schedule (list of slices) into per-process statistics."""
from __future__ import annotations

from dataclasses import dataclass

from process import Process, Slice


@dataclass
class Report:
    completion: dict[str, int]
    turnaround: dict[str, int]
    waiting: dict[str, int]
    response: dict[str, int]

    @property
    def average_turnaround(self) -> float:
        return _mean(self.turnaround.values())

    @property
    def average_waiting(self) -> float:
        return _mean(self.waiting.values())


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def completion_times(slices: list[Slice]) -> dict[str, int]:
    done: dict[str, int] = {}
    for s in slices:
        done[s.pid] = max(done.get(s.pid, 0), s.end)
    return done


def summarize(processes: list[Process], slices: list[Slice]) -> Report:
    completion = completion_times(slices)
    first_start: dict[str, int] = {}
    for s in slices:
        first_start.setdefault(s.pid, s.start)
    turnaround, waiting, response = {}, {}, {}
    for p in processes:
        if p.pid not in completion:
            raise ValueError(f"process {p.pid} never ran")
        turnaround[p.pid] = completion[p.pid] - p.arrival
        waiting[p.pid] = turnaround[p.pid] - p.burst
        response[p.pid] = first_start[p.pid] - p.arrival
    return Report(completion, turnaround, waiting, response)


def utilization(slices: list[Slice]) -> float:
    """Fraction of time from 0 to the last slice end during which the CPU was busy."""
    if not slices:
        return 0.0
    busy = sum(s.length for s in slices)
    return busy / max(s.end for s in slices)


def gantt(slices: list[Slice]) -> str:
    """Render e.g. 'P1[0-3] | idle[3-5] | P2[5-7]'."""
    parts: list[str] = []
    clock = 0
    for s in slices:
        if s.start > clock:
            parts.append(f"idle[{clock}-{s.start}]")
        parts.append(f"{s.pid}[{s.start}-{s.end}]")
        clock = s.end
    return " | ".join(parts)
