"""Rough password strength estimates based on character pool size."""
from __future__ import annotations

import math

POOL_LOWER = 26
POOL_UPPER = 26
POOL_DIGIT = 10
POOL_OTHER = 32


def character_classes(password: str) -> set[str]:
    """Subset of {'lower', 'upper', 'digit', 'other'} present in the password."""
    found: set[str] = set()
    for ch in password:
        if "a" <= ch <= "z":
            found.add("lower")
        elif "A" <= ch <= "Z":
            found.add("upper")
        elif "0" <= ch <= "9":
            found.add("digit")
        else:
            found.add("other")
    return found


def entropy_bits(password: str) -> float:
    """len(password) * log2(pool), where pool sums the sizes of classes used."""
    sizes = {"lower": POOL_LOWER, "upper": POOL_UPPER, "digit": POOL_DIGIT, "other": POOL_OTHER}
    pool = sum(sizes[c] for c in character_classes(password))
    if pool == 0:
        return 0.0
    return len(password) * math.log2(pool)


def strength_label(password: str) -> str:
    bits = entropy_bits(password)
    if bits < 40:
        return "weak"
    if bits < 60:
        return "fair"
    if bits < 80:
        return "strong"
    return "very strong"


def longest_run(text: str) -> int:
    """Length of the longest block of one repeated character."""
    best = run = 0
    prev = None
    for ch in text:
        run = run + 1 if ch == prev else 1
        prev = ch
        best = max(best, run)
    return best
