"""Paragraph-aware formatter built on the justify helpers."""
from __future__ import annotations

import re

from justify import ALIGNMENTS, align, justify, wrap

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by one or more blank lines; empty ones are dropped."""
    return [p for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


class TextFormatter:
    def __init__(self, width: int = 72, align: str = "justify", indent: int = 0) -> None:
        if align not in ALIGNMENTS:
            raise ValueError(f"unknown alignment: {align}")
        if indent < 0 or width - indent < 1:
            raise ValueError("indent leaves no room for text")
        self.width = width
        self.align = align
        self.indent = indent

    @property
    def content_width(self) -> int:
        return self.width - self.indent

    def format_paragraph(self, paragraph: str) -> list[str]:
        width = self.content_width
        if self.align == "justify":
            lines = justify(paragraph, width)
        else:
            lines = [align(line, width, self.align) for line in wrap(paragraph, width)]
        prefix = " " * self.indent
        return [prefix + line for line in lines]

    def format_lines(self, text: str) -> list[str]:
        out: list[str] = []
        for paragraph in split_paragraphs(text):
            if out:
                out.append("")
            out.extend(self.format_paragraph(paragraph))
        return out

    def format(self, text: str) -> str:
        return "\n".join(self.format_lines(text))
