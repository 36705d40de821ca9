"""Requirements lists as text: the numbered Markdown list in `gold_requirements.md` and in
model output.

Parsing is tolerant because model output is: `1.` and `1)` numbering, `-`/`*`/`+`/`•` bullets,
wrapped continuation lines and `# title` lines all occur. Prose outside any item (an intro
sentence, text after a blank line at column 0) is not a requirement and is left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NUMBERED = re.compile(r"^\s{0,3}\d+[.)]\s+(?P<text>.*)$")
_BULLET = re.compile(r"^(?P<indent>\s*)[-*+•]\s+(?P<text>.*)$")
_HEADING = re.compile(r"^\s{0,3}#")
# A bullet indented this far under an item is a sub-point of it (Markdown nests at 2+ spaces).
_NESTED_INDENT = 2


def normalize_item(text: str) -> str:
    """One line, single spaces: the form every parsed or formatted item has."""
    return " ".join(text.split())


def parse_requirements(text: str) -> list[str]:
    """Items of a numbered (or bulleted) list, numbering stripped, continuation lines joined.

    >>> parse_requirements("# Title\\n1. Adds numbers\\n   and returns the sum.\\n2) Never prints.")
    ['Adds numbers and returns the sum.', 'Never prints.']
    """
    items: list[list[str]] = []
    open_item = False  # whether a non-blank line may continue the last item
    after_blank = False
    for line in text.splitlines():
        if not line.strip():
            after_blank = True
            continue
        if _HEADING.match(line):
            open_item = False
        elif match := _NUMBERED.match(line):
            items.append([match["text"]])
            open_item = True
        elif match := _BULLET.match(line):
            nested = open_item and len(match["indent"].expandtabs(4)) >= _NESTED_INDENT
            if nested:
                items[-1].append(match["text"])
            else:
                items.append([match["text"]])
                open_item = True
        elif open_item and (not after_blank or line[:1].isspace()):
            items[-1].append(line)
        else:
            open_item = False
        after_blank = False
    parsed = [normalize_item(" ".join(parts)) for parts in items]
    return [item for item in parsed if item]


def format_requirements(items: Iterable[str]) -> str:
    """`1. ...\\n2. ...`; `parse_requirements` reads it back to the normalized items."""
    lines = []
    for number, item in enumerate(items, start=1):
        text = normalize_item(item)
        if not text:
            raise ValueError(f"requirement {number} is empty; every item needs some text")
        lines.append(f"{number}. {text}")
    return "\n".join(lines)
