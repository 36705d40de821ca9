"""Find Markdown headings (ATX and setext) and give them anchor slugs."""
from __future__ import annotations

import re
from dataclasses import dataclass

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_CLOSING = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True)
class Heading:
    level: int
    title: str
    slug: str
    line: int


def slugify(title: str) -> str:
    """Lower-case, drop punctuation (keeping '-' and '_'), turn each space into '-'."""
    text = title.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def clean_title(raw: str) -> str:
    """Replace inline links by their text and trim whitespace."""
    return _LINK.sub(r"\1", raw).strip()


class SlugRegistry:
    """Hands out unique slugs: 'intro', then 'intro-1', 'intro-2', ..."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def unique(self, base: str) -> str:
        if base not in self._seen:
            self._seen[base] = 0
            return base
        while True:
            self._seen[base] += 1
            candidate = f"{base}-{self._seen[base]}"
            if candidate not in self._seen:
                self._seen[candidate] = 0
                return candidate


def extract_headings(markdown: str) -> list[Heading]:
    """Return all headings outside fenced code blocks, in document order."""
    found: list[tuple[int, str, int]] = []
    fence: str | None = None
    previous: str | None = None  # candidate paragraph line for setext headings
    previous_no = 0
    for number, line in enumerate(markdown.splitlines(), start=1):
        fence_match = _FENCE.match(line)
        if fence is not None:
            if fence_match and fence_match.group(1)[0] == fence[0] and len(fence_match.group(1)) >= len(fence):
                fence = None
            continue
        if fence_match:
            fence, previous = fence_match.group(1), None
            continue
        atx = _ATX.match(line)
        if atx:
            text = _CLOSING.sub("", atx.group(2) or "")
            found.append((len(atx.group(1)), clean_title(text), number))
            previous = None
            continue
        setext = _SETEXT.match(line)
        if setext and previous is not None:
            level = 1 if setext.group(1)[0] == "=" else 2
            found.append((level, clean_title(previous), previous_no))
            previous = None
            continue
        if line.strip():
            previous, previous_no = line, number
        else:
            previous = None
    registry = SlugRegistry()
    return [Heading(level, title, registry.unique(slugify(title)), no) for level, title, no in found]
