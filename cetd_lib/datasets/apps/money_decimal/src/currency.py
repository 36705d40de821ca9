"""Currency metadata: ISO code and number of minor-unit digits."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Currency:
    code: str
    exponent: int

    @property
    def quantum(self) -> Decimal:
        """Smallest representable step, e.g. Decimal('0.01') for USD."""
        return Decimal(1).scaleb(-self.exponent)


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("USD", 2),
        Currency("EUR", 2),
        Currency("GBP", 2),
        Currency("CHF", 2),
        Currency("JPY", 0),
        Currency("KRW", 0),
        Currency("BHD", 3),
        Currency("KWD", 3),
    )
}


def get_currency(code: str) -> Currency:
    """Look up a currency by code (case-insensitive); unknown codes raise ValueError."""
    key = code.strip().upper()
    try:
        return CURRENCIES[key]
    except KeyError:
        raise ValueError(f"unknown currency: {code!r}") from None
