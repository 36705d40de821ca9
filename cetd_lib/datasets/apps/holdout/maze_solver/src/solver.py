"""Search algorithms and helpers for :class:`Maze`."""
from __future__ import annotations

from collections import deque

from maze import EXIT, START, Cell, Maze


def _bfs(maze: Maze) -> dict[Cell, Cell | None]:
    parents: dict[Cell, Cell | None] = {maze.start: None}
    queue = deque([maze.start])
    while queue:
        cell = queue.popleft()
        for nxt in maze.neighbors(cell):
            if nxt not in parents:
                parents[nxt] = cell
                queue.append(nxt)
    return parents


def bfs_path(maze: Maze) -> list[Cell] | None:
    """Shortest path from start to exit, both included; None if unreachable.

    Neighbours are explored up, down, left, right, which decides between
    equally short paths.
    """
    parents = _bfs(maze)
    if maze.end not in parents:
        return None
    path: list[Cell] = []
    cell: Cell | None = maze.end
    while cell is not None:
        path.append(cell)
        cell = parents[cell]
    return path[::-1]


def shortest_distance(maze: Maze) -> int:
    path = bfs_path(maze)
    return -1 if path is None else len(path) - 1


def reachable(maze: Maze) -> set[Cell]:
    return set(_bfs(maze))


def dead_ends(maze: Maze) -> list[Cell]:
    """Open cells (other than start and exit) with exactly one open neighbour."""
    return [
        cell for cell in maze.open_cells()
        if cell not in (maze.start, maze.end) and len(maze.neighbors(cell)) == 1
    ]


def count_turns(path: list[Cell]) -> int:
    """Number of direction changes along a path."""
    turns = 0
    previous = None
    for (r1, c1), (r2, c2) in zip(path, path[1:]):
        step = (r2 - r1, c2 - c1)
        if previous is not None and step != previous:
            turns += 1
        previous = step
    return turns


def render(maze: Maze, path: list[Cell]) -> str:
    """Draw the maze with '*' on path cells (start and exit keep their letters)."""
    grid = [list(row) for row in maze.rows]
    for r, c in path:
        if grid[r][c] not in (START, EXIT):
            grid[r][c] = "*"
    return "\n".join("".join(row) for row in grid)
