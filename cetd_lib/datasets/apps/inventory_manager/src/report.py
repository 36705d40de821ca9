"""CSV import and plain-text reporting for an :class:`Inventory`."""
from __future__ import annotations

import csv
import io

from inventory import Inventory

REQUIRED_COLUMNS = ("sku", "name", "quantity", "unit_cost", "reorder_level")


def load_csv(text: str) -> Inventory:
    """Build an inventory from CSV text with a header row.

    Each row creates an item and, when quantity > 0, receives that stock at
    the row's unit cost.
    """
    reader = csv.DictReader(io.StringIO(text.strip()))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")
    inv = Inventory()
    for row in reader:
        quantity = int(row["quantity"])
        cost = float(row["unit_cost"])
        if quantity < 0:
            raise ValueError("quantity cannot be negative")
        inv.add_item(row["sku"].strip(), row["name"].strip(), cost, int(row["reorder_level"]))
        if quantity:
            inv.receive(row["sku"].strip(), quantity, cost)
    return inv


def format_report(inv: Inventory) -> str:
    lines = ["sku,name,quantity,value"]
    for item in inv.items():
        lines.append(f"{item.sku},{item.name},{item.quantity},{item.value:.2f}")
    lines.append(f"TOTAL,,,{inv.total_value():.2f}")
    return "\n".join(lines)


def category_totals(inv: Inventory) -> dict[str, float]:
    """Stock value grouped by the sku prefix before the first '-'."""
    totals: dict[str, float] = {}
    for item in inv.items():
        category = item.sku.split("-", 1)[0]
        totals[category] = totals.get(category, 0.0) + item.value
    return totals
