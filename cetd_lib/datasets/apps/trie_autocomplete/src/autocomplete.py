"""Ranking helpers built on top of :class:`trie.Trie`."""

from __future__ import annotations

from typing import Iterable

from trie import Trie


def build_trie(words: Iterable[str]) -> Trie:
    trie = Trie()
    for w in words:
        trie.insert(w)
    return trie


def suggest(trie: Trie, prefix: str, limit: int = 5) -> list[str]:
    """Best completions of ``prefix``: heaviest first, ties alphabetical."""
    if limit < 0:
        raise ValueError("limit must be non-negative")
    ranked = sorted(trie.items_with_prefix(prefix), key=lambda pair: (-pair[1], pair[0]))
    return [word for word, _ in ranked[:limit]]


def longest_common_prefix(words: Iterable[str]) -> str:
    items = list(words)
    if not items:
        return ""
    lo, hi = min(items), max(items)
    i = 0
    while i < len(lo) and lo[i] == hi[i]:
        i += 1
    return lo[:i]


class Autocompleter:
    """Learns from what the user picks: each selection bumps a word's weight."""

    def __init__(self, vocabulary: Iterable[str] = ()) -> None:
        self.trie = build_trie(vocabulary)

    def select(self, word: str) -> None:
        self.trie.insert(word, 1)

    def complete(self, prefix: str, limit: int = 5) -> list[str]:
        return suggest(self.trie, prefix, limit)

    def expand(self, prefix: str) -> str:
        """Extend ``prefix`` as far as every known completion agrees."""
        matches = self.trie.starts_with(prefix)
        if not matches:
            return prefix
        return longest_common_prefix(matches)
