"""Tax rates per product category and cent rounding."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping, Union

Amount = Union[int, str, Decimal]
CENT = Decimal("0.01")


class UnknownTaxCategory(KeyError):
    pass


def to_decimal(value: Amount) -> Decimal:
    if isinstance(value, (float, bool)):
        raise TypeError("pass amounts as int, str or Decimal")
    return value if isinstance(value, Decimal) else Decimal(value)


def round_money(value: Amount) -> Decimal:
    """Round to whole cents, halves away from zero."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


class TaxTable:
    """Percentage rates keyed by category, e.g. {'standard': '20', 'reduced': '5'}."""

    def __init__(self, rates: Mapping[str, Amount]) -> None:
        self._rates: dict[str, Decimal] = {}
        for category, rate in rates.items():
            pct = to_decimal(rate)
            if pct < 0 or pct > 100:
                raise ValueError(f"rate for {category!r} must be within 0..100")
            self._rates[category] = pct

    def categories(self) -> list[str]:
        return sorted(self._rates)

    def rate_for(self, category: str) -> Decimal:
        try:
            return self._rates[category]
        except KeyError:
            raise UnknownTaxCategory(category) from None

    def tax_on(self, category: str, net: Amount) -> Decimal:
        return round_money(to_decimal(net) * self.rate_for(category) / 100)
