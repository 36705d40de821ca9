"""Task graph with dependency ordering, priorities and cycle detection.

A task lists the tasks it depends on; those must finish before it starts.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Iterable


class CycleError(Exception):
    """Raised when the dependency graph contains a cycle."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__("dependency cycle: " + " -> ".join(cycle + cycle[:1]))
        self.cycle = cycle


class UnknownDependency(KeyError):
    pass


@dataclass(frozen=True)
class Task:
    name: str
    priority: int = 0
    duration: int = 1
    deps: frozenset[str] = field(default_factory=frozenset)


class TaskGraph:
    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def add(self, name: str, priority: int = 0, duration: int = 1, deps: Iterable[str] = ()) -> Task:
        if name in self._tasks:
            raise ValueError(f"task {name!r} already exists")
        if duration < 1:
            raise ValueError("duration must be at least 1")
        task = Task(name, priority, duration, frozenset(deps))
        self._tasks[name] = task
        return task

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    def get(self, name: str) -> Task:
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownDependency(name) from None

    @property
    def names(self) -> list[str]:
        return sorted(self._tasks)

    def dependents(self, name: str) -> list[str]:
        """Names of tasks that directly depend on ``name`` (sorted)."""
        self.get(name)
        return sorted(t.name for t in self._tasks.values() if name in t.deps)

    def _check_references(self) -> None:
        for task in self._tasks.values():
            for dep in sorted(task.deps):
                if dep not in self._tasks:
                    raise UnknownDependency(f"{task.name!r} depends on unknown task {dep!r}")

    def find_cycle(self) -> list[str] | None:
        """Return one dependency cycle, or None if the graph is acyclic.

        The cycle is rotated so that its alphabetically smallest task comes
        first; each listed task depends on the next, and the last on the first.
        """
        self._check_references()
        WHITE, GREY, BLACK = 0, 1, 2
        colour = {name: WHITE for name in self._tasks}
        stack: list[str] = []

        def visit(name: str) -> list[str] | None:
            colour[name] = GREY
            stack.append(name)
            for dep in sorted(self._tasks[name].deps):
                if colour[dep] == GREY:
                    cycle = stack[stack.index(dep):]
                    start = cycle.index(min(cycle))
                    return cycle[start:] + cycle[:start]
                if colour[dep] == WHITE:
                    found = visit(dep)
                    if found:
                        return found
            stack.pop()
            colour[name] = BLACK
            return None

        for name in self.names:
            if colour[name] == WHITE:
                found = visit(name)
                if found:
                    return found
        return None

    def order(self) -> list[str]:
        """Topological order; among ready tasks, highest priority first, then by name."""
        self._check_references()
        waiting = {name: len(task.deps) for name, task in self._tasks.items()}
        ready = [(-t.priority, t.name) for t in self._tasks.values() if not t.deps]
        heapq.heapify(ready)
        result: list[str] = []
        while ready:
            _, name = heapq.heappop(ready)
            result.append(name)
            for child in self.dependents(name):
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, (-self._tasks[child].priority, child))
        if len(result) != len(self._tasks):
            raise CycleError(self.find_cycle() or [])
        return result
