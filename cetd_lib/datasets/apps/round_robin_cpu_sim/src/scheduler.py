"""Round-robin and first-come-first-served CPU schedulers."""
from __future__ import annotations

from collections import deque
from typing import Iterable

from process import Process, Slice


def _prepare(processes: Iterable[Process]) -> list[Process]:
    procs = list(processes)
    pids = [p.pid for p in procs]
    if len(set(pids)) != len(pids):
        raise ValueError("process ids must be unique")
    # stable sort: equal arrival times keep their input order
    return sorted(procs, key=lambda p: p.arrival)


def _append(timeline: list[Slice], pid: str, start: int, end: int) -> None:
    """Add a slice, merging it with the previous one when contiguous."""
    if timeline and timeline[-1].pid == pid and timeline[-1].end == start:
        timeline[-1] = Slice(pid, timeline[-1].start, end)
    else:
        timeline.append(Slice(pid, start, end))


class RoundRobin:
    """Preemptive round robin with a fixed time quantum.

    Processes that arrive while a quantum is running (including exactly at
    its end) join the ready queue before the preempted process.
    """

    def __init__(self, quantum: int) -> None:
        if quantum <= 0:
            raise ValueError("quantum must be positive")
        self.quantum = quantum

    def run(self, processes: Iterable[Process]) -> list[Slice]:
        pending = deque(_prepare(processes))
        remaining = {p.pid: p.burst for p in pending}
        ready: deque[Process] = deque()
        timeline: list[Slice] = []
        clock = 0

        def admit(until: int) -> None:
            while pending and pending[0].arrival <= until:
                ready.append(pending.popleft())

        while pending or ready:
            admit(clock)
            if not ready:
                clock = pending[0].arrival  # CPU idles until the next arrival
                continue
            proc = ready.popleft()
            used = min(self.quantum, remaining[proc.pid])
            _append(timeline, proc.pid, clock, clock + used)
            clock += used
            remaining[proc.pid] -= used
            admit(clock)
            if remaining[proc.pid] > 0:
                ready.append(proc)
        return timeline


def round_robin(processes: Iterable[Process], quantum: int) -> list[Slice]:
    return RoundRobin(quantum).run(processes)


def fcfs(processes: Iterable[Process]) -> list[Slice]:
    """Non-preemptive first come, first served."""
    timeline: list[Slice] = []
    clock = 0
    for proc in _prepare(processes):
        clock = max(clock, proc.arrival)
        _append(timeline, proc.pid, clock, clock + proc.burst)
        clock += proc.burst
    return timeline
