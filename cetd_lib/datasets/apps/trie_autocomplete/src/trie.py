"""Prefix tree storing words together with an integer weight."""

from __future__ import annotations

from typing import Iterator


class _Node:
    __slots__ = ("children", "weight", "terminal", "passing")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.weight = 0
        self.terminal = False
        self.passing = 0  # number of stored words in this subtree


class Trie:
    def __init__(self) -> None:
        self._root = _Node()
        self._size = 0

    def _walk(self, prefix: str) -> _Node | None:
        node = self._root
        for ch in prefix:
            node = node.children.get(ch)
            if node is None:
                return None
        return node

    def insert(self, word: str, weight: int = 1) -> None:
        """Add ``word``; inserting it again adds ``weight`` to its total."""
        if not word:
            raise ValueError("cannot insert an empty word")
        if weight < 0:
            raise ValueError("weight must be non-negative")
        existing = self._walk(word)
        is_new = existing is None or not existing.terminal
        node = self._root
        if is_new:
            node.passing += 1
        for ch in word:
            node = node.children.setdefault(ch, _Node())
            if is_new:
                node.passing += 1
        node.terminal = True
        node.weight += weight
        if is_new:
            self._size += 1

    def remove(self, word: str) -> bool:
        node = self._walk(word) if word else None
        if node is None or not node.terminal:
            return False
        path = [self._root]
        cur = self._root
        for ch in word:
            cur = cur.children[ch]
            path.append(cur)
        for n in path:
            n.passing -= 1
        node.terminal = False
        node.weight = 0
        # prune now-empty branches from the bottom up
        for depth in range(len(word), 0, -1):
            child = path[depth]
            if child.passing == 0:
                del path[depth - 1].children[word[depth - 1]]
            else:
                break
        self._size -= 1
        return True

    def weight(self, word: str) -> int:
        node = self._walk(word)
        if node is None or not node.terminal:
            raise KeyError(word)
        return node.weight

    def count_prefix(self, prefix: str) -> int:
        node = self._walk(prefix)
        return 0 if node is None else node.passing

    def items_with_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        """Yield (word, weight) pairs under ``prefix`` in alphabetical order."""
        start = self._walk(prefix)
        if start is None:
            return
        stack: list[tuple[str, _Node]] = [(prefix, start)]
        while stack:
            text, node = stack.pop()
            if node.terminal:
                yield text, node.weight
            for ch in sorted(node.children, reverse=True):
                stack.append((text + ch, node.children[ch]))

    def starts_with(self, prefix: str) -> list[str]:
        return [w for w, _ in self.items_with_prefix(prefix)]

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str) or not word:
            return False
        node = self._walk(word)
        return node is not None and node.terminal

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[str]:
        return iter(self.starts_with(""))
