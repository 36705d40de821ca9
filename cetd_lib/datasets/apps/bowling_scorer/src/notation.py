"""Parse scoresheet notation such as 'X 7/ 9- X -8 8/ -6 X X X81'.

Symbols: X strike, / spare, - gutter (0), 1-9 pin counts. Whitespace and
'|' separators are ignored.
"""
from __future__ import annotations

from bowling import PINS, play


def parse_rolls(line: str) -> list[int]:
    rolls: list[int] = []
    spare_allowed = False  # True when the previous ball was a non-strike first ball
    for ch in line:
        if ch.isspace() or ch == "|":
            continue
        if ch in "Xx":
            value = PINS
        elif ch == "/":
            if not spare_allowed:
                raise ValueError("'/' must follow a non-strike ball")
            value = PINS - rolls[-1]
        elif ch == "-":
            value = 0
        elif ch.isdigit() and ch != "0":
            value = int(ch)
        else:
            raise ValueError(f"unexpected symbol {ch!r}")
        spare_allowed = ch not in "Xx/" and not spare_allowed
        rolls.append(value)
    return rolls


def score_line(line: str) -> int:
    return play(parse_rolls(line)).score()


def to_notation(rolls: list[int]) -> str:
    """Render rolls as compact notation (one token per ball, no separators)."""
    out: list[str] = []
    first_ball = True
    prev = 0
    for pins in rolls:
        if first_ball and pins == PINS:
            out.append("X")
            continue  # next ball is again a first ball
        if not first_ball and prev + pins == PINS:
            out.append("/")
        else:
            out.append("-" if pins == 0 else str(pins))
        prev = pins
        first_ball = not first_ball
    return "".join(out)
