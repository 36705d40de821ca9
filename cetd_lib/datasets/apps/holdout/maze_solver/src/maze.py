"""Grid mazes parsed from text.

Legend: '#' wall, '.' open floor, 'S' start, 'E' exit. Cells are addressed
as (row, col) with (0, 0) in the top-left corner.
"""
from __future__ import annotations

Cell = tuple[int, int]

WALL = "#"
FLOOR = "."
START = "S"
EXIT = "E"

# up, down, left, right -- the order neighbours are explored in
STEPS: tuple[Cell, ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))


class Maze:
    def __init__(self, rows: list[str]) -> None:
        if not rows:
            raise ValueError("maze is empty")
        width = len(rows[0])
        if width == 0 or any(len(r) != width for r in rows):
            raise ValueError("maze rows must be non-empty and equally long")
        starts, exits = [], []
        for r, row in enumerate(rows):
            for c, ch in enumerate(row):
                if ch == START:
                    starts.append((r, c))
                elif ch == EXIT:
                    exits.append((r, c))
                elif ch not in (WALL, FLOOR):
                    raise ValueError(f"unknown maze symbol {ch!r} at {(r, c)}")
        if len(starts) != 1 or len(exits) != 1:
            raise ValueError("maze needs exactly one 'S' and one 'E'")
        self.rows = list(rows)
        self.height = len(rows)
        self.width = width
        self.start: Cell = starts[0]
        self.end: Cell = exits[0]

    @classmethod
    def from_text(cls, text: str) -> "Maze":
        return cls([line.strip() for line in text.strip().splitlines() if line.strip()])

    def is_open(self, cell: Cell) -> bool:
        r, c = cell
        return 0 <= r < self.height and 0 <= c < self.width and self.rows[r][c] != WALL

    def neighbors(self, cell: Cell) -> list[Cell]:
        r, c = cell
        return [(r + dr, c + dc) for dr, dc in STEPS if self.is_open((r + dr, c + dc))]

    def open_cells(self) -> list[Cell]:
        return [(r, c) for r in range(self.height) for c in range(self.width) if self.is_open((r, c))]

    def __str__(self) -> str:
        return "\n".join(self.rows)
