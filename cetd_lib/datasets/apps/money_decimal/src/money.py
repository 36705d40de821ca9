"""An immutable Money value backed by Decimal, rounded to the currency's minor unit."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Iterable, Union

from currency import Currency, get_currency

Number = Union[int, str, Decimal]


class CurrencyMismatchError(ValueError):
    """Raised when combining or comparing Money of two different currencies."""


def _to_decimal(value: Number) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError("use int, str or Decimal for money amounts, not float/bool")
    if not isinstance(value, (int, str, Decimal)):
        raise TypeError(f"unsupported amount type: {type(value).__name__}")
    try:
        return Decimal(value) if not isinstance(value, str) else Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


class Money:
    __slots__ = ("_amount", "_currency")

    def __init__(self, amount: Number, currency: str) -> None:
        cur = get_currency(currency)
        raw = _to_decimal(amount)
        self._currency: Currency = cur
        self._amount: Decimal = raw.quantize(cur.quantum, rounding=ROUND_HALF_UP)

    # -- accessors -------------------------------------------------------
    @property
    def amount(self) -> Decimal:
        return self._amount

    @property
    def currency(self) -> str:
        return self._currency.code

    @property
    def minor_units(self) -> int:
        return int(self._amount.scaleb(self._currency.exponent))

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> "Money":
        cur = get_currency(currency)
        return cls(Decimal(units).scaleb(-cur.exponent), cur.code)

    def is_zero(self) -> bool:
        return self._amount == 0

    # -- arithmetic ------------------------------------------------------
    def _check(self, other: object) -> "Money":
        if not isinstance(other, Money):
            raise TypeError("can only combine Money with Money")
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"{self.currency} vs {other.currency}")
        return other

    def __add__(self, other: "Money") -> "Money":
        other = self._check(other)
        return Money(self._amount + other._amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        other = self._check(other)
        return Money(self._amount - other._amount, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self._amount, self.currency)

    def __mul__(self, factor: Number) -> "Money":
        return Money(self._amount * _to_decimal(factor), self.currency)

    __rmul__ = __mul__

    # -- comparison ------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self._amount == other._amount

    def __hash__(self) -> int:
        return hash((self.currency, self._amount))

    def __lt__(self, other: "Money") -> bool:
        return self._amount < self._check(other)._amount

    def __le__(self, other: "Money") -> bool:
        return self._amount <= self._check(other)._amount

    def __gt__(self, other: "Money") -> bool:
        return self._amount > self._check(other)._amount

    def __ge__(self, other: "Money") -> bool:
        return self._amount >= self._check(other)._amount

    # -- splitting -------------------------------------------------------
    def allocate(self, ratios: list[int]) -> list["Money"]:
        """Split by integer ratios without losing a single minor unit.

        Each share gets floor(total * ratio / sum); leftover minor units are
        handed out one at a time starting from the first share.
        """
        if not ratios or any(r < 0 for r in ratios) or sum(ratios) == 0:
            raise ValueError("ratios must be non-negative with a positive sum")
        total = self.minor_units
        weight = sum(ratios)
        sign = -1 if total < 0 else 1
        magnitude = abs(total)
        shares = [magnitude * r // weight for r in ratios]
        leftover = magnitude - sum(shares)
        i = 0
        while leftover > 0:
            if ratios[i] > 0:
                shares[i] += 1
                leftover -= 1
            i = (i + 1) % len(shares)
        return [Money.from_minor_units(sign * s, self.currency) for s in shares]

    def split(self, parts: int) -> list["Money"]:
        if parts < 1:
            raise ValueError("parts must be at least 1")
        return self.allocate([1] * parts)

    # -- text ------------------------------------------------------------
    def __str__(self) -> str:
        return f"{self._amount:f} {self.currency}"

    def __repr__(self) -> str:
        return f"Money('{self._amount:f}', '{self.currency}')"


def parse_money(text: str) -> Money:
    """Parse '12.50 USD' or 'USD 12.50' (code case-insensitive)."""
    parts = text.split()
    if len(parts) != 2:
        raise ValueError(f"expected '<amount> <code>' or '<code> <amount>': {text!r}")
    first, second = parts
    if first.isalpha():
        code, amount = first, second
    else:
        amount, code = first, second
    return Money(amount, code)


def sum_money(items: Iterable[Money], currency: str) -> Money:
    """Sum Money values; an empty iterable gives zero in `currency`."""
    total = Money(0, currency)
    for item in items:
        total = total + item
    return total
