"""Conway's Game of Life on a finite rectangular grid.

The grid either has hard edges (cells outside are always dead) or wraps
around like a torus.
"""
from __future__ import annotations

from typing import Iterable

Cell = tuple[int, int]  # (x, y): x is the column, y is the row

ALIVE_CHAR = "#"
DEAD_CHAR = "."


class Grid:
    def __init__(self, width: int, height: int, alive: Iterable[Cell] = (), wrap: bool = False) -> None:
        if width <= 0 or height <= 0:
            raise ValueError("grid dimensions must be positive")
        self.width = width
        self.height = height
        self.wrap = wrap
        cells = set()
        for x, y in alive:
            if not (0 <= x < width and 0 <= y < height):
                raise ValueError(f"cell {(x, y)} lies outside the grid")
            cells.add((x, y))
        self._alive = frozenset(cells)

    # -- construction helpers -------------------------------------------------
    @classmethod
    def from_text(cls, text: str, wrap: bool = False) -> "Grid":
        rows = [line.strip() for line in text.strip().splitlines() if line.strip()]
        if not rows:
            raise ValueError("empty pattern")
        width = len(rows[0])
        if any(len(r) != width for r in rows):
            raise ValueError("all rows must have the same length")
        alive = []
        for y, row in enumerate(rows):
            for x, ch in enumerate(row):
                if ch == ALIVE_CHAR:
                    alive.append((x, y))
                elif ch != DEAD_CHAR:
                    raise ValueError(f"unexpected character {ch!r}")
        return cls(width, len(rows), alive, wrap=wrap)

    def to_text(self) -> str:
        return "\n".join(
            "".join(ALIVE_CHAR if (x, y) in self._alive else DEAD_CHAR for x in range(self.width))
            for y in range(self.height)
        )

    # -- queries --------------------------------------------------------------
    @property
    def alive(self) -> frozenset[Cell]:
        return self._alive

    @property
    def population(self) -> int:
        return len(self._alive)

    def is_alive(self, x: int, y: int) -> bool:
        return (x, y) in self._alive

    def _neighbour_cells(self, x: int, y: int) -> Iterable[Cell]:
        seen = set()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dx == 0 and dy == 0:
                    continue
                nx, ny = x + dx, y + dy
                if self.wrap:
                    nx, ny = nx % self.width, ny % self.height
                elif not (0 <= nx < self.width and 0 <= ny < self.height):
                    continue
                if (nx, ny) != (x, y) and (nx, ny) not in seen:
                    seen.add((nx, ny))
                    yield nx, ny

    def live_neighbours(self, x: int, y: int) -> int:
        return sum(1 for c in self._neighbour_cells(x, y) if c in self._alive)

    # -- evolution ------------------------------------------------------------
    def step(self) -> "Grid":
        """Return the next generation (B3/S23)."""
        candidates = set(self._alive)
        for x, y in self._alive:
            candidates.update(self._neighbour_cells(x, y))
        survivors = []
        for x, y in candidates:
            n = self.live_neighbours(x, y)
            if n == 3 or (n == 2 and (x, y) in self._alive):
                survivors.append((x, y))
        return Grid(self.width, self.height, survivors, wrap=self.wrap)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Grid)
            and (self.width, self.height, self.wrap) == (other.width, other.height, other.wrap)
            and self._alive == other._alive
        )

    def __hash__(self) -> int:
        return hash((self.width, self.height, self.wrap, self._alive))


def run(grid: Grid, generations: int) -> Grid:
    """Advance ``grid`` by ``generations`` steps."""
    if generations < 0:
        raise ValueError("generations must be non-negative")
    for _ in range(generations):
        grid = grid.step()
    return grid


def find_cycle(grid: Grid, max_steps: int = 1000) -> tuple[int, int] | None:
    """Detect when the pattern starts repeating.

    Returns ``(start, period)``: generation ``start`` is the first one that
    recurs, and it recurs every ``period`` generations. None if no repeat is
    seen within ``max_steps`` steps.
    """
    seen: dict[frozenset[Cell], int] = {grid.alive: 0}
    for gen in range(1, max_steps + 1):
        grid = grid.step()
        if grid.alive in seen:
            first = seen[grid.alive]
            return first, gen - first
        seen[grid.alive] = gen
    return None
