"""Plain-text rendering of an invoice."""
from __future__ import annotations

from invoice import Invoice


def render_invoice(invoice: Invoice) -> str:
    out = [f"Invoice {invoice.number}"]
    for line in invoice.lines:
        text = f"{line.quantity} x {line.description} @ {line.unit_price:.2f} = {line.net():.2f}"
        if line.discount_pct:
            text += f" (-{line.discount_pct:f}%)"
        out.append(text)
    out.append(f"Subtotal: {invoice.subtotal():.2f}")
    for category, tax in invoice.tax_breakdown().items():
        rate = invoice.tax_table.rate_for(category)
        out.append(f"Tax {category} {rate:f}%: {tax:.2f}")
    out.append(f"Total: {invoice.total():.2f}")
    return "\n".join(out)
