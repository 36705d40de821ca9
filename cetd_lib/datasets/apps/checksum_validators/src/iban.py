"""IBAN parsing and ISO 13616 mod-97 validation."""
from __future__ import annotations

from dataclasses import dataclass

# Expected total lengths for a handful of countries; others just need 15..34.
IBAN_LENGTHS: dict[str, int] = {
    "BE": 16, "CH": 21, "DE": 22, "ES": 24, "FR": 27, "GB": 22, "IT": 27, "NL": 18,
}


def _compact(text: str) -> str:
    return "".join(text.split()).upper()


def iban_mod97(compact: str) -> int:
    """Move the first four chars to the end, map letters A=10..Z=35, take mod 97."""
    rearranged = compact[4:] + compact[:4]
    remainder = 0
    for ch in rearranged:
        value = int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10
        for digit in str(value):
            remainder = (remainder * 10 + int(digit)) % 97
    return remainder


def _structure_ok(s: str) -> bool:
    if not (s.isascii() and s.isalnum()):
        return False
    if len(s) < 5 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    expected = IBAN_LENGTHS.get(s[:2])
    if expected is not None:
        return len(s) == expected
    return 15 <= len(s) <= 34


def is_valid_iban(text: str) -> bool:
    s = _compact(text)
    return _structure_ok(s) and iban_mod97(s) == 1


def make_iban(country: str, bban: str) -> str:
    """Compute the two check digits for country + BBAN and return the compact IBAN."""
    country = country.upper()
    bban = _compact(bban)
    if len(country) != 2 or not country.isalpha() or not (bban.isascii() and bban.isalnum()):
        raise ValueError("country must be two letters and bban alphanumeric")
    check = 98 - iban_mod97(country + "00" + bban)
    return f"{country}{check:02d}{bban}"


def format_iban(text: str) -> str:
    """Print format: upper case, groups of four separated by single spaces."""
    s = _compact(text)
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


@dataclass(frozen=True)
class Iban:
    country: str
    check_digits: str
    bban: str

    @classmethod
    def parse(cls, text: str) -> "Iban":
        s = _compact(text)
        if not is_valid_iban(s):
            raise ValueError(f"invalid IBAN: {text!r}")
        return cls(s[:2], s[2:4], s[4:])

    @property
    def compact(self) -> str:
        return self.country + self.check_digits + self.bban

    def __str__(self) -> str:
        return format_iban(self.compact)
