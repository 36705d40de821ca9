"""A plain-text editor model with unlimited (or bounded) undo and redo."""

from __future__ import annotations

from collections import deque
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence

from commands import Buffer, Command, Composite, DeleteText, InsertText


class Editor:
    def __init__(self, text: str = "", max_history: Optional[int] = None) -> None:
        if max_history is not None and max_history < 1:
            raise ValueError("max_history must be positive")
        self._buf = Buffer(text)
        self._undo: deque[Command] = deque(maxlen=max_history)
        self._redo: list[Command] = []
        self._pending: Optional[list[Command]] = None
        self._depth = 0

    @property
    def text(self) -> str:
        return self._buf.text

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def _run(self, cmd: Command) -> None:
        cmd.apply(self._buf)
        if self._pending is not None:
            self._pending.append(cmd)
        else:
            self._undo.append(cmd)
        self._redo.clear()

    def _check_pos(self, pos: int) -> None:
        if not 0 <= pos <= len(self._buf.text):
            raise IndexError(f"position {pos} out of range")

    def insert(self, pos: int, text: str) -> None:
        self._check_pos(pos)
        if text:
            self._run(InsertText(pos, text))

    def delete(self, pos: int, length: int) -> str:
        if length < 0:
            raise ValueError("length must be non-negative")
        self._check_pos(pos)
        if pos + length > len(self._buf.text):
            raise IndexError("deletion runs past end of text")
        if length == 0:
            return ""
        cmd = DeleteText(pos, length)
        self._run(cmd)
        return cmd.removed

    def replace(self, pos: int, length: int, text: str) -> None:
        with self.group("replace"):
            self.delete(pos, length)
            self.insert(pos, text)

    def append(self, text: str) -> None:
        self.insert(len(self._buf.text), text)

    @contextmanager
    def group(self, label: str = "group") -> Iterator["Editor"]:
        """Collect every edit made inside the block into a single undo step."""
        outermost = self._pending is None
        if outermost:
            self._pending = []
        try:
            yield self
        finally:
            if outermost:
                parts, self._pending = self._pending, None
                if parts:
                    self._undo.append(Composite(parts, label))
                    self._redo.clear()

    def undo(self) -> bool:
        if not self._undo:
            return False
        cmd = self._undo.pop()
        cmd.revert(self._buf)
        self._redo.append(cmd)
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        cmd = self._redo.pop()
        cmd.apply(self._buf)
        self._undo.append(cmd)
        return True

    def history(self) -> list[str]:
        """Labels of undoable steps, oldest first."""
        return [cmd.label for cmd in self._undo]


def replay(operations: Sequence[tuple], initial: str = "") -> str:
    """Run a script of editor operations and return the final text."""
    ed = Editor(initial)
    for op in operations:
        name, *args = op
        if name == "insert":
            ed.insert(*args)
        elif name == "delete":
            ed.delete(*args)
        elif name == "replace":
            ed.replace(*args)
        elif name == "undo":
            ed.undo()
        elif name == "redo":
            ed.redo()
        else:
            raise ValueError(f"unknown operation {name!r}")
    return ed.text
