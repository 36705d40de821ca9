"""Roman numeral conversion with strict validation and a small value type."""
from __future__ import annotations

import re
from functools import total_ordering

MIN_VALUE = 1
MAX_VALUE = 3999

_TABLE = (
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"),
    (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
    (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
)
_DIGITS = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_WORD = re.compile(r"\b[IVXLCDM]{2,}\b")


def to_roman(number: int) -> str:
    """Convert 1..3999 to its canonical upper-case numeral."""
    if isinstance(number, bool) or not isinstance(number, int):
        raise TypeError("expected an int")
    if not MIN_VALUE <= number <= MAX_VALUE:
        raise ValueError(f"{number} is outside {MIN_VALUE}..{MAX_VALUE}")
    pieces = []
    for value, letters in _TABLE:
        count, number = divmod(number, value)
        pieces.append(letters * count)
    return "".join(pieces)


def _additive_value(text: str) -> int:
    total = 0
    for i, ch in enumerate(text):
        value = _DIGITS[ch]
        if i + 1 < len(text) and _DIGITS[text[i + 1]] > value:
            total -= value
        else:
            total += value
    return total


def from_roman(numeral: str) -> int:
    """Parse a numeral (either case); only canonical spellings are accepted."""
    if not isinstance(numeral, str):
        raise TypeError("expected a str")
    text = numeral.strip().upper()
    if not text or any(ch not in _DIGITS for ch in text):
        raise ValueError(f"not a roman numeral: {numeral!r}")
    value = _additive_value(text)
    # Reject non-canonical forms such as IIII, IC or VX by round-tripping.
    if not MIN_VALUE <= value <= MAX_VALUE or to_roman(value) != text:
        raise ValueError(f"non-canonical roman numeral: {numeral!r}")
    return value


def is_valid_roman(numeral: str) -> bool:
    try:
        from_roman(numeral)
    except (TypeError, ValueError):
        return False
    return True


def arabicize(text: str) -> str:
    """Replace upper-case words of 2+ letters that are valid numerals by integers."""
    def swap(match: re.Match) -> str:
        word = match.group(0)
        return str(from_roman(word)) if is_valid_roman(word) else word

    return _WORD.sub(swap, text)


@total_ordering
class Roman:
    """Immutable number in 1..3999 that prints as a Roman numeral."""

    __slots__ = ("_value",)

    def __init__(self, value: int | str) -> None:
        if isinstance(value, str):
            number = from_roman(value)
        else:
            to_roman(value)  # validates type and range
            number = value
        object.__setattr__(self, "_value", number)

    def __setattr__(self, name, value):
        raise AttributeError("Roman is immutable")

    @property
    def value(self) -> int:
        return self._value

    def __int__(self) -> int:
        return self._value

    def __str__(self) -> str:
        return to_roman(self._value)

    def __repr__(self) -> str:
        return f"Roman('{self}')"

    def __hash__(self) -> int:
        return hash(self._value)

    @staticmethod
    def _coerce(other) -> int | None:
        if isinstance(other, Roman):
            return other._value
        if isinstance(other, int) and not isinstance(other, bool):
            return other
        return None

    def __eq__(self, other) -> bool:
        number = self._coerce(other)
        return NotImplemented if number is None else self._value == number

    def __lt__(self, other) -> bool:
        number = self._coerce(other)
        return NotImplemented if number is None else self._value < number

    def _combine(self, other, op) -> "Roman":
        number = self._coerce(other)
        if number is None:
            return NotImplemented
        return Roman(op(self._value, number))

    def __add__(self, other):
        return self._combine(other, lambda a, b: a + b)

    __radd__ = __add__

    def __sub__(self, other):
        return self._combine(other, lambda a, b: a - b)

    def __mul__(self, other):
        return self._combine(other, lambda a, b: a * b)

    __rmul__ = __mul__
