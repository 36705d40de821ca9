"""Longest common subsequence via a suffix dynamic-programming table."""
from __future__ import annotations

from typing import Sequence, TypeVar

T = TypeVar("T")


def suffix_table(a: Sequence[T], b: Sequence[T]) -> list[list[int]]:
    """table[i][j] == LCS length of a[i:] and b[j:]."""
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = table[i], table[i + 1]
        for j in range(m - 1, -1, -1):
            if a[i] == b[j]:
                row[j] = below[j + 1] + 1
            else:
                row[j] = max(below[j], row[j + 1])
    return table


def lcs_length(a: Sequence[T], b: Sequence[T]) -> int:
    return suffix_table(a, b)[0][0] if a and b else 0


def longest_common_subsequence(a: Sequence[T], b: Sequence[T]) -> list[T]:
    table = suffix_table(a, b)
    i = j = 0
    out: list[T] = []
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            out.append(a[i])
            i += 1
            j += 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return out
