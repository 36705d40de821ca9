"""Luhn (mod 10) check digits, as used on payment cards."""
from __future__ import annotations


def _clean(number: str) -> str:
    return number.replace(" ", "").replace("-", "")


def luhn_checksum(digits: str) -> int:
    """Luhn sum mod 10 of a digit string (a valid number yields 0)."""
    if not digits.isdigit():
        raise ValueError("digits only")
    total = 0
    for pos, ch in enumerate(reversed(digits)):
        d = int(ch)
        if pos % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10


def is_valid_luhn(number: str) -> bool:
    """True if `number` (spaces/hyphens allowed) passes the Luhn check."""
    digits = _clean(number)
    if len(digits) < 2 or not digits.isdigit() or not digits.isascii():
        return False
    return luhn_checksum(digits) == 0


def luhn_check_digit(partial: str) -> str:
    """The digit to append to `partial` so the result is Luhn-valid."""
    digits = _clean(partial)
    if not digits or not digits.isdigit():
        raise ValueError("partial number must contain digits only")
    return str((10 - luhn_checksum(digits + "0")) % 10)
