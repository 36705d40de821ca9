"""A small library of named starting patterns."""
from __future__ import annotations

from life import Grid

PATTERNS: dict[str, str] = {
    "block": "##\n##",
    "blinker": "###",
    "glider": ".#.\n..#\n###",
    "toad": ".###\n###.",
    "beacon": "##..\n##..\n..##\n..##",
}


def pattern_cells(name: str) -> set[tuple[int, int]]:
    """Live cells of a named pattern relative to its top-left corner."""
    try:
        text = PATTERNS[name]
    except KeyError:
        raise KeyError(f"unknown pattern {name!r}") from None
    return set(Grid.from_text(text).alive)


def place(name: str, width: int, height: int, offset: tuple[int, int] = (0, 0), wrap: bool = False) -> Grid:
    """Build a ``width`` x ``height`` grid with the pattern shifted by ``offset`` (dx, dy)."""
    dx, dy = offset
    cells = {(x + dx, y + dy) for x, y in pattern_cells(name)}
    return Grid(width, height, cells, wrap=wrap)
