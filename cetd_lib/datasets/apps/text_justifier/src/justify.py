"""Greedy word wrapping plus full justification and simple alignment."""
from __future__ import annotations

ALIGNMENTS = ("left", "right", "center", "justify")


def _check_width(width: int) -> None:
    if width < 1:
        raise ValueError("width must be at least 1")


def wrap(text: str, width: int) -> list[str]:
    """Greedily pack words into lines of at most `width` characters.

    Words longer than the width are cut into width-sized chunks.
    """
    _check_width(width)
    pieces: list[str] = []
    for word in text.split():
        pieces.extend(word[i:i + width] for i in range(0, len(word), width))
    lines: list[str] = []
    current = ""
    for piece in pieces:
        if not current:
            current = piece
        elif len(current) + 1 + len(piece) <= width:
            current += " " + piece
        else:
            lines.append(current)
            current = piece
    if current:
        lines.append(current)
    return lines


def justify_line(words: list[str], width: int) -> str:
    """Spread `words` across exactly `width` columns; leftmost gaps get extra spaces."""
    if not words:
        return ""
    letters = sum(len(w) for w in words)
    gaps = len(words) - 1
    if letters + gaps > width:
        raise ValueError("words do not fit in width")
    if gaps == 0:
        return words[0]
    base, extra = divmod(width - letters, gaps)
    parts = []
    for index, word in enumerate(words[:-1]):
        parts.append(word)
        parts.append(" " * (base + (1 if index < extra else 0)))
    parts.append(words[-1])
    return "".join(parts)


def align(line: str, width: int, how: str = "left") -> str:
    """Align one line: left is unchanged, right pads to width, center pads the left half."""
    if len(line) > width:
        raise ValueError("line longer than width")
    if how == "left":
        return line
    if how == "right":
        return line.rjust(width)
    if how == "center":
        return " " * ((width - len(line)) // 2) + line
    if how == "justify":
        return justify_line(line.split(), width)
    raise ValueError(f"unknown alignment: {how}")


def justify(text: str, width: int) -> list[str]:
    """Wrap and fully justify; the last line stays left-aligned."""
    lines = wrap(text, width)
    out = [justify_line(line.split(" "), width) for line in lines[:-1]]
    out.extend(lines[-1:])
    return out
