"""A classic Bloom filter backed by a bytearray."""

from __future__ import annotations

import math
from typing import Iterable

from hashing import hash_positions, optimal_parameters


class BloomFilter:
    def __init__(self, size_bits: int, num_hashes: int) -> None:
        if size_bits < 1 or num_hashes < 1:
            raise ValueError("size_bits and num_hashes must be positive")
        self.size_bits = size_bits
        self.num_hashes = num_hashes
        self.items_added = 0
        self._bits = bytearray((size_bits + 7) // 8)

    @classmethod
    def for_capacity(cls, expected_items: int, fp_rate: float) -> "BloomFilter":
        return cls(*optimal_parameters(expected_items, fp_rate))

    # bit twiddling: bit i lives in byte i // 8 under mask 1 << (i % 8)
    def _set(self, pos: int) -> None:
        self._bits[pos >> 3] |= 1 << (pos & 7)

    def _get(self, pos: int) -> bool:
        return bool(self._bits[pos >> 3] & (1 << (pos & 7)))

    def add(self, item: str | bytes) -> None:
        for pos in hash_positions(item, self.size_bits, self.num_hashes):
            self._set(pos)
        self.items_added += 1

    def update(self, items: Iterable[str | bytes]) -> None:
        for item in items:
            self.add(item)

    def __contains__(self, item: object) -> bool:
        positions = hash_positions(item, self.size_bits, self.num_hashes)  # type: ignore[arg-type]
        return all(self._get(p) for p in positions)

    def bit_count(self) -> int:
        return sum(bin(b).count("1") for b in self._bits)

    def estimated_false_positive_rate(self) -> float:
        k, m, n = self.num_hashes, self.size_bits, self.items_added
        return (1.0 - math.exp(-k * n / m)) ** k

    def _check_compatible(self, other: "BloomFilter") -> None:
        if (self.size_bits, self.num_hashes) != (other.size_bits, other.num_hashes):
            raise ValueError("filters have different parameters")

    def union(self, other: "BloomFilter") -> "BloomFilter":
        self._check_compatible(other)
        merged = BloomFilter(self.size_bits, self.num_hashes)
        merged._bits = bytearray(a | b for a, b in zip(self._bits, other._bits))
        merged.items_added = self.items_added + other.items_added
        return merged

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    @classmethod
    def from_bytes(cls, data: bytes, size_bits: int, num_hashes: int) -> "BloomFilter":
        bf = cls(size_bits, num_hashes)
        if len(data) != len(bf._bits):
            raise ValueError("data length does not match size_bits")
        bf._bits = bytearray(data)
        return bf
