"""Deterministic hashing and sizing maths for Bloom filters.

Python's built-in ``hash`` is salted per process, so positions are derived
from SHA-256 instead, which keeps filters reproducible and serialisable.
"""

from __future__ import annotations

import hashlib
import math


def to_bytes(item: str | bytes) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8")
    raise TypeError(f"unsupported item type: {type(item).__name__}")


def hash_positions(item: str | bytes, size_bits: int, num_hashes: int) -> list[int]:
    """Bit positions for ``item`` using double hashing over a SHA-256 digest."""
    digest = hashlib.sha256(to_bytes(item)).digest()
    h1 = int.from_bytes(digest[:8], "big")
    h2 = int.from_bytes(digest[8:16], "big")
    return [(h1 + i * h2) % size_bits for i in range(num_hashes)]


def optimal_parameters(expected_items: int, fp_rate: float) -> tuple[int, int]:
    """Return ``(size_bits, num_hashes)`` for the wanted false-positive rate."""
    if expected_items < 1:
        raise ValueError("expected_items must be positive")
    if not 0.0 < fp_rate < 1.0:
        raise ValueError("fp_rate must be strictly between 0 and 1")
    ln2 = math.log(2)
    bits = math.ceil(-expected_items * math.log(fp_rate) / (ln2 * ln2))
    hashes = max(1, round(bits / expected_items * ln2))
    return bits, hashes
