"""Planning helpers built on top of :class:`TaskGraph`."""
from __future__ import annotations

from tasks import TaskGraph


def critical_path(graph: TaskGraph) -> tuple[int, list[str]]:
    """Longest chain of dependent tasks by total duration.

    Returns (total duration, task names from first to last). An empty graph
    gives (0, []).
    """
    best: dict[str, tuple[int, list[str]]] = {}
    for name in graph.order():
        task = graph.get(name)
        length, chain = 0, []
        for dep in sorted(task.deps):
            if best[dep][0] > length:
                length, chain = best[dep]
        best[name] = (length + task.duration, chain + [name])
    if not best:
        return 0, []
    return max(best.values(), key=lambda item: item[0])


def parallel_schedule(graph: TaskGraph, workers: int) -> dict[str, tuple[int, int]]:
    """Greedy list scheduling on ``workers`` identical workers.

    Returns a mapping of task name to (start, end) times.
    """
    if workers < 1:
        raise ValueError("need at least one worker")
    graph.order()  # validates references and cycles
    schedule: dict[str, tuple[int, int]] = {}
    running: list[tuple[int, str]] = []
    finished: set[str] = set()
    now = 0
    while len(schedule) < len(graph):
        ready = [
            graph.get(n) for n in graph.names
            if n not in schedule and graph.get(n).deps <= finished
        ]
        ready.sort(key=lambda t: (-t.priority, t.name))
        for task in ready[: workers - len(running)]:
            schedule[task.name] = (now, now + task.duration)
            running.append((now + task.duration, task.name))
        now = min(end for end, _ in running)
        for end, name in list(running):
            if end == now:
                running.remove((end, name))
                finished.add(name)
    return schedule


def makespan(schedule: dict[str, tuple[int, int]]) -> int:
    return max((end for _, end in schedule.values()), default=0)
