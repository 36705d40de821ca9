"""ISBN-10 and ISBN-13 validation and conversion."""
from __future__ import annotations


def normalize_isbn(text: str) -> str:
    """Strip hyphens/spaces and upper-case a trailing 'x'."""
    return text.replace("-", "").replace(" ", "").upper()


def isbn10_check_char(first9: str) -> str:
    total = sum((10 - i) * int(ch) for i, ch in enumerate(first9))
    value = (11 - total % 11) % 11
    return "X" if value == 10 else str(value)


def isbn13_check_digit(first12: str) -> str:
    total = sum(int(ch) * (1 if i % 2 == 0 else 3) for i, ch in enumerate(first12))
    return str((10 - total % 10) % 10)


def is_valid_isbn10(text: str) -> bool:
    s = normalize_isbn(text)
    if len(s) != 10 or not s[:9].isdigit():
        return False
    if not (s[9].isdigit() or s[9] == "X"):
        return False
    return isbn10_check_char(s[:9]) == s[9]


def is_valid_isbn13(text: str) -> bool:
    s = normalize_isbn(text)
    if len(s) != 13 or not s.isdigit():
        return False
    if not s.startswith(("978", "979")):
        return False
    return isbn13_check_digit(s[:12]) == s[12]


def isbn10_to_isbn13(text: str) -> str:
    """Convert a valid ISBN-10 into its 978-prefixed ISBN-13 (digits only)."""
    if not is_valid_isbn10(text):
        raise ValueError(f"invalid ISBN-10: {text!r}")
    body = "978" + normalize_isbn(text)[:9]
    return body + isbn13_check_digit(body)
