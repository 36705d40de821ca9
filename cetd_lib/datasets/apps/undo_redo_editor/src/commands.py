"""Reversible text edits (the command pattern).

Each command works on a mutable ``Buffer`` and knows how to undo itself.
"""

from __future__ import annotations


class Buffer:
    """Tiny mutable string holder shared by the commands."""

    def __init__(self, text: str = "") -> None:
        self.text = text


class Command:
    label = "command"

    def apply(self, buf: Buffer) -> None:
        raise NotImplementedError

    def revert(self, buf: Buffer) -> None:
        raise NotImplementedError


class InsertText(Command):
    label = "insert"

    def __init__(self, pos: int, text: str) -> None:
        self.pos = pos
        self.text = text

    def apply(self, buf: Buffer) -> None:
        buf.text = buf.text[: self.pos] + self.text + buf.text[self.pos :]

    def revert(self, buf: Buffer) -> None:
        buf.text = buf.text[: self.pos] + buf.text[self.pos + len(self.text) :]


class DeleteText(Command):
    label = "delete"

    def __init__(self, pos: int, length: int) -> None:
        self.pos = pos
        self.length = length
        self.removed = ""  # filled in on apply so revert can restore it

    def apply(self, buf: Buffer) -> None:
        end = self.pos + self.length
        self.removed = buf.text[self.pos : end]
        buf.text = buf.text[: self.pos] + buf.text[end:]

    def revert(self, buf: Buffer) -> None:
        buf.text = buf.text[: self.pos] + self.removed + buf.text[self.pos :]


class Composite(Command):
    """Several commands that are undone and redone as one step."""

    def __init__(self, parts: list[Command], label: str = "group") -> None:
        self.parts = list(parts)
        self.label = label

    def apply(self, buf: Buffer) -> None:
        for part in self.parts:
            part.apply(buf)

    def revert(self, buf: Buffer) -> None:
        for part in reversed(self.parts):
            part.revert(buf)
