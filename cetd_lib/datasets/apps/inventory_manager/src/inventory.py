"""Stock keeping with weighted-average costing and a transaction log."""
from __future__ import annotations

from dataclasses import dataclass


class InsufficientStock(Exception):
    def __init__(self, sku: str, requested: int, available: int) -> None:
        super().__init__(f"{sku}: requested {requested}, only {available} on hand")
        self.sku = sku
        self.requested = requested
        self.available = available


@dataclass
class Item:
    sku: str
    name: str
    quantity: int = 0
    unit_cost: float = 0.0
    reorder_level: int = 0

    @property
    def value(self) -> float:
        return self.quantity * self.unit_cost


@dataclass(frozen=True)
class Transaction:
    kind: str  # "receive", "ship" or "adjust"
    sku: str
    quantity: int  # signed change in stock
    unit_cost: float


class Inventory:
    def __init__(self) -> None:
        self._items: dict[str, Item] = {}
        self._log: list[Transaction] = []

    def add_item(self, sku: str, name: str, unit_cost: float = 0.0, reorder_level: int = 0) -> Item:
        if sku in self._items:
            raise ValueError(f"duplicate sku {sku}")
        if unit_cost < 0 or reorder_level < 0:
            raise ValueError("cost and reorder level must be non-negative")
        item = Item(sku, name, 0, float(unit_cost), reorder_level)
        self._items[sku] = item
        return item

    def get(self, sku: str) -> Item:
        if sku not in self._items:
            raise KeyError(sku)
        return self._items[sku]

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[Item]:
        return [self._items[k] for k in sorted(self._items)]

    @staticmethod
    def _positive(quantity: int) -> None:
        if quantity <= 0:
            raise ValueError("quantity must be positive")

    def receive(self, sku: str, quantity: int, unit_cost: float | None = None) -> Item:
        item = self.get(sku)
        self._positive(quantity)
        cost = item.unit_cost if unit_cost is None else float(unit_cost)
        if cost < 0:
            raise ValueError("unit cost must be non-negative")
        total = item.quantity + quantity
        item.unit_cost = (item.quantity * item.unit_cost + quantity * cost) / total
        item.quantity = total
        self._log.append(Transaction("receive", sku, quantity, cost))
        return item

    def ship(self, sku: str, quantity: int) -> float:
        """Remove stock; return the cost of the goods shipped."""
        item = self.get(sku)
        self._positive(quantity)
        if quantity > item.quantity:
            raise InsufficientStock(sku, quantity, item.quantity)
        item.quantity -= quantity
        self._log.append(Transaction("ship", sku, -quantity, item.unit_cost))
        return quantity * item.unit_cost

    def adjust(self, sku: str, delta: int) -> Item:
        """Correct the on-hand count after a stock take (delta may be negative)."""
        item = self.get(sku)
        if delta == 0:
            raise ValueError("adjustment must change the quantity")
        if item.quantity + delta < 0:
            raise ValueError("adjustment would make stock negative")
        item.quantity += delta
        self._log.append(Transaction("adjust", sku, delta, item.unit_cost))
        return item

    def history(self, sku: str | None = None) -> list[Transaction]:
        if sku is None:
            return list(self._log)
        self.get(sku)
        return [t for t in self._log if t.sku == sku]

    def low_stock(self) -> list[str]:
        return [i.sku for i in self.items() if i.quantity <= i.reorder_level]

    def total_value(self) -> float:
        return sum(i.value for i in self._items.values())
