"""Invoice lines, per-line discounts and per-category tax totals."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Optional

from tax import Amount, TaxTable, round_money, to_decimal


@dataclass
class LineItem:
    description: str
    quantity: int
    unit_price: Decimal
    category: str = "standard"
    discount_pct: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        self.unit_price = to_decimal(self.unit_price)
        self.discount_pct = to_decimal(self.discount_pct)
        if self.quantity <= 0:
            raise ValueError("quantity must be positive")
        if self.unit_price < 0:
            raise ValueError("unit price cannot be negative")
        if not 0 <= self.discount_pct <= 100:
            raise ValueError("discount must be within 0..100 percent")

    def gross(self) -> Decimal:
        return round_money(self.unit_price * self.quantity)

    def discount_amount(self) -> Decimal:
        return round_money(self.gross() * self.discount_pct / 100)

    def net(self) -> Decimal:
        return self.gross() - self.discount_amount()


class Invoice:
    def __init__(self, number: str, tax_table: TaxTable, lines: Optional[Iterable[LineItem]] = None) -> None:
        self.number = number
        self.tax_table = tax_table
        self.lines: list[LineItem] = []
        for line in lines or ():
            self.add_line(line)

    def add_line(self, line: LineItem) -> "Invoice":
        # fail early on categories the table does not know
        self.tax_table.rate_for(line.category)
        self.lines.append(line)
        return self

    def subtotal(self) -> Decimal:
        return sum((line.net() for line in self.lines), Decimal("0.00"))

    def net_by_category(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for line in self.lines:
            totals[line.category] = totals.get(line.category, Decimal("0.00")) + line.net()
        return dict(sorted(totals.items()))

    def tax_breakdown(self) -> dict[str, Decimal]:
        """Tax per category, computed on the category's summed net and rounded once."""
        return {cat: self.tax_table.tax_on(cat, net) for cat, net in self.net_by_category().items()}

    def tax_total(self) -> Decimal:
        return sum(self.tax_breakdown().values(), Decimal("0.00"))

    def total(self) -> Decimal:
        return self.subtotal() + self.tax_total()


_LINE = re.compile(
    r"^\s*(?P<qty>\d+)\s*x\s+(?P<desc>.+?)\s+@\s+(?P<price>\d+(?:\.\d+)?)"
    r"(?:\s+-(?P<disc>\d+(?:\.\d+)?)%)?(?:\s+\[(?P<cat>\w+)\])?\s*$"
)


def parse_line(text: str) -> LineItem:
    """Parse '3 x Widget @ 4.99', optionally followed by ' -10%' and/or ' [reduced]'."""
    m = _LINE.match(text)
    if not m:
        raise ValueError(f"cannot parse invoice line: {text!r}")
    return LineItem(
        description=m["desc"],
        quantity=int(m["qty"]),
        unit_price=Decimal(m["price"]),
        category=m["cat"] or "standard",
        discount_pct=Decimal(m["disc"] or "0"),
    )
