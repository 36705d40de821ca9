from decimal import Decimal

import pytest

from invoice import Invoice, LineItem, parse_line
from render import render_invoice
from tax import TaxTable, UnknownTaxCategory, round_money


def table():
    return TaxTable({"standard": "20", "reduced": "5", "zero": "0"})


def sample_invoice():
    inv = Invoice("INV-001", table())
    inv.add_line(LineItem("Widget", 3, Decimal("4.99")))
    inv.add_line(LineItem("Book", 2, Decimal("12.50"), category="reduced"))
    inv.add_line(LineItem("Gadget", 1, Decimal("100.00"), discount_pct=Decimal("15")))
    return inv


def test_round_money_half_up():
    assert round_money("0.125") == Decimal("0.13")
    assert round_money("0.124") == Decimal("0.12")
    assert round_money(Decimal("-0.125")) == Decimal("-0.13")
    assert round_money(3) == Decimal("3.00")


def test_tax_table_lookup_and_unknown_category():
    t = table()
    assert t.rate_for("reduced") == Decimal("5")
    assert t.categories() == ["reduced", "standard", "zero"]
    with pytest.raises(UnknownTaxCategory):
        t.rate_for("luxury")
    with pytest.raises(KeyError):
        t.rate_for("luxury")


def test_tax_table_rejects_out_of_range_rates():
    with pytest.raises(ValueError):
        TaxTable({"bad": "150"})
    with pytest.raises(ValueError):
        TaxTable({"bad": "-1"})


def test_tax_on_rounds_to_cents():
    assert table().tax_on("standard", Decimal("99.97")) == Decimal("19.99")
    assert table().tax_on("reduced", "0.50") == Decimal("0.03")


def test_line_item_amounts():
    line = LineItem("Gadget", 2, Decimal("2.50"), discount_pct=Decimal("5"))
    assert line.gross() == Decimal("5.00")
    assert line.discount_amount() == Decimal("0.25")
    assert line.net() == Decimal("4.75")
    half = LineItem("Pen", 1, "2.50", discount_pct="5")
    assert half.discount_amount() == Decimal("0.13")
    assert half.net() == Decimal("2.37")


def test_line_item_validation():
    with pytest.raises(ValueError):
        LineItem("x", 0, Decimal("1"))
    with pytest.raises(ValueError):
        LineItem("x", 1, Decimal("-1"))
    with pytest.raises(ValueError):
        LineItem("x", 1, Decimal("1"), discount_pct=Decimal("101"))


def test_invoice_totals():
    inv = sample_invoice()
    assert inv.subtotal() == Decimal("124.97")
    assert inv.tax_breakdown() == {"reduced": Decimal("1.25"), "standard": Decimal("19.99")}
    assert inv.tax_total() == Decimal("21.24")
    assert inv.total() == Decimal("146.21")


def test_tax_is_rounded_per_category_not_per_line():
    inv = Invoice("INV-2", table())
    inv.add_line(LineItem("a", 1, Decimal("0.03")))
    inv.add_line(LineItem("b", 1, Decimal("0.03")))
    assert inv.tax_total() == Decimal("0.01")


def test_net_by_category_sorted():
    inv = sample_invoice()
    inv.add_line(LineItem("Bread", 1, Decimal("2"), category="zero"))
    nets = inv.net_by_category()
    assert list(nets) == ["reduced", "standard", "zero"]
    assert nets["standard"] == Decimal("99.97")
    assert inv.tax_breakdown()["zero"] == Decimal("0.00")


def test_add_line_rejects_unknown_category_and_chains():
    inv = Invoice("INV-3", table())
    assert inv.add_line(LineItem("ok", 1, Decimal("1"))) is inv
    with pytest.raises(UnknownTaxCategory):
        inv.add_line(LineItem("bad", 1, Decimal("1"), category="luxury"))
    assert len(inv.lines) == 1


def test_empty_invoice_and_constructor_lines():
    assert Invoice("E", table()).total() == Decimal("0")
    inv = Invoice("C", table(), [LineItem("a", 2, Decimal("1.00"))])
    assert inv.total() == Decimal("2.40")


def test_parse_line_variants():
    line = parse_line("3 x Blue widget @ 4.99")
    assert (line.quantity, line.description, line.unit_price, line.category) == (3, "Blue widget", Decimal("4.99"), "standard")
    line = parse_line("2x Book @ 12.50 -10% [reduced]")
    assert line.category == "reduced"
    assert line.discount_pct == Decimal("10")
    assert line.net() == Decimal("22.50")


def test_parse_line_rejects_garbage():
    with pytest.raises(ValueError):
        parse_line("three widgets please")


def test_render_invoice():
    text = render_invoice(sample_invoice())
    assert text.splitlines() == [
        "Invoice INV-001",
        "3 x Widget @ 4.99 = 14.97",
        "2 x Book @ 12.50 = 25.00",
        "1 x Gadget @ 100.00 = 85.00 (-15%)",
        "Subtotal: 124.97",
        "Tax reduced 5%: 1.25",
        "Tax standard 20%: 19.99",
        "Total: 146.21",
    ]
