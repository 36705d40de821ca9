"""A tiny immutable tic-tac-toe board.

Cells are indexed 0..8 row by row:

    0 1 2
    3 4 5
    6 7 8
"""
from __future__ import annotations

EMPTY = "."
MARKS = ("X", "O")

WIN_LINES: tuple[tuple[int, int, int], ...] = (
    (0, 1, 2), (3, 4, 5), (6, 7, 8),  # rows
    (0, 3, 6), (1, 4, 7), (2, 5, 8),  # columns
    (0, 4, 8), (2, 4, 6),             # diagonals
)


class Board:
    """Immutable 3x3 board. X always moves first."""

    __slots__ = ("_cells",)

    def __init__(self, cells: str = EMPTY * 9) -> None:
        cells = "".join(cells.split())  # allow "X.O / ... / ..." with whitespace
        if len(cells) != 9:
            raise ValueError("a board needs exactly 9 cells")
        if any(c not in (EMPTY, "X", "O") for c in cells):
            raise ValueError("cells may only contain 'X', 'O' or '.'")
        xs, os_ = cells.count("X"), cells.count("O")
        if not (xs == os_ or xs == os_ + 1):
            raise ValueError("impossible mark counts")
        self._cells = cells

    @property
    def cells(self) -> str:
        return self._cells

    @property
    def current_player(self) -> str:
        return "X" if self._cells.count("X") == self._cells.count("O") else "O"

    def available_moves(self) -> list[int]:
        return [i for i, c in enumerate(self._cells) if c == EMPTY]

    def winner(self) -> str | None:
        for a, b, c in WIN_LINES:
            mark = self._cells[a]
            if mark != EMPTY and mark == self._cells[b] == self._cells[c]:
                return mark
        return None

    def is_full(self) -> bool:
        return EMPTY not in self._cells

    def is_over(self) -> bool:
        return self.winner() is not None or self.is_full()

    def play(self, index: int) -> "Board":
        """Return a new board with the current player's mark at ``index``."""
        if not 0 <= index < 9:
            raise ValueError(f"cell {index} is off the board")
        if self.is_over():
            raise ValueError("the game is already over")
        if self._cells[index] != EMPTY:
            raise ValueError(f"cell {index} is taken")
        mark = self.current_player
        return Board(self._cells[:index] + mark + self._cells[index + 1:])

    def __str__(self) -> str:
        c = self._cells
        return "\n".join((c[0:3], c[3:6], c[6:9]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Board) and other._cells == self._cells

    def __hash__(self) -> int:
        return hash(self._cells)

    def __repr__(self) -> str:
        return f"Board({self._cells!r})"
