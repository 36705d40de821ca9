"""Render a table of contents and splice it into a Markdown document."""
from __future__ import annotations

from headings import Heading, extract_headings

START_MARKER = "<!-- toc -->"
END_MARKER = "<!-- tocstop -->"


def render_toc(
    headings: list[Heading],
    min_level: int = 1,
    max_level: int = 6,
    ordered: bool = False,
) -> str:
    """One bullet per heading, indented two spaces per level below the shallowest."""
    if min_level > max_level:
        raise ValueError("min_level must not exceed max_level")
    chosen = [h for h in headings if min_level <= h.level <= max_level]
    if not chosen:
        return ""
    base = min(h.level for h in chosen)
    bullet = "1." if ordered else "-"
    lines = [f"{'  ' * (h.level - base)}{bullet} [{h.title}](#{h.slug})" for h in chosen]
    return "\n".join(lines)


def insert_toc(markdown: str, min_level: int = 1, max_level: int = 6, ordered: bool = False) -> str:
    """Put the TOC after the start marker line, replacing any previous TOC block."""
    lines = markdown.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == START_MARKER)
    except StopIteration:
        raise ValueError("no TOC marker found") from None
    stop = next((i for i in range(start + 1, len(lines)) if lines[i].strip() == END_MARKER), None)
    tail = lines[stop + 1:] if stop is not None else lines[start + 1:]
    remaining = "\n".join(lines[:start] + tail)
    toc = render_toc(extract_headings(remaining), min_level, max_level, ordered)
    block = [START_MARKER] + (toc.split("\n") if toc else []) + [END_MARKER]
    result = "\n".join(lines[:start] + block + tail)
    return result + "\n" if markdown.endswith("\n") else result
