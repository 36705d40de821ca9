import pytest

from inventory import InsufficientStock, Inventory, Item, Transaction
from report import category_totals, format_report, load_csv


def make():
    inv = Inventory()
    inv.add_item("TL-001", "Hammer", 10.0, reorder_level=5)
    inv.add_item("TL-002", "Wrench", 8.0, reorder_level=2)
    inv.add_item("FS-100", "Screws", 0.05, reorder_level=100)
    return inv


def test_add_item_and_get():
    inv = make()
    item = inv.get("TL-001")
    assert item == Item("TL-001", "Hammer", 0, 10.0, 5)
    assert len(inv) == 3
    assert [i.sku for i in inv.items()] == ["FS-100", "TL-001", "TL-002"]


def test_add_item_errors():
    inv = make()
    with pytest.raises(ValueError):
        inv.add_item("TL-001", "Dup")
    with pytest.raises(ValueError):
        inv.add_item("X", "Bad", unit_cost=-1)
    with pytest.raises(KeyError):
        inv.get("NOPE")


def test_receive_weighted_average_cost():
    inv = make()
    inv.receive("TL-001", 10, 10.0)
    item = inv.receive("TL-001", 10, 13.0)
    assert item.quantity == 20
    assert item.unit_cost == pytest.approx(11.5)
    assert item.value == pytest.approx(230.0)


def test_receive_defaults_to_current_cost_and_validates():
    inv = make()
    item = inv.receive("TL-002", 4)
    assert item.unit_cost == pytest.approx(8.0)
    with pytest.raises(ValueError):
        inv.receive("TL-002", 0)
    with pytest.raises(KeyError):
        inv.receive("ZZ", 1)


def test_ship_returns_cost_of_goods():
    inv = make()
    inv.receive("TL-001", 10, 12.0)
    assert inv.ship("TL-001", 3) == pytest.approx(36.0)
    assert inv.get("TL-001").quantity == 7


def test_ship_insufficient_stock():
    inv = make()
    inv.receive("TL-002", 2)
    with pytest.raises(InsufficientStock) as info:
        inv.ship("TL-002", 5)
    assert (info.value.sku, info.value.requested, info.value.available) == ("TL-002", 5, 2)
    assert inv.get("TL-002").quantity == 2
    with pytest.raises(ValueError):
        inv.ship("TL-002", -1)


def test_adjust():
    inv = make()
    inv.receive("FS-100", 500)
    assert inv.adjust("FS-100", -20).quantity == 480
    with pytest.raises(ValueError):
        inv.adjust("FS-100", -1000)
    with pytest.raises(ValueError):
        inv.adjust("FS-100", 0)


def test_history_log():
    inv = make()
    inv.receive("TL-001", 5, 9.0)
    inv.receive("TL-002", 1)
    inv.ship("TL-001", 2)
    assert inv.history("TL-001") == [
        Transaction("receive", "TL-001", 5, 9.0),
        Transaction("ship", "TL-001", -2, 9.0),
    ]
    assert len(inv.history()) == 3
    with pytest.raises(KeyError):
        inv.history("missing")


def test_low_stock_sorted():
    inv = make()
    inv.receive("TL-001", 6)
    inv.receive("FS-100", 100)
    assert inv.low_stock() == ["FS-100", "TL-002"]


def test_total_value():
    inv = make()
    inv.receive("TL-001", 2, 10.0)
    inv.receive("FS-100", 200, 0.05)
    assert inv.total_value() == pytest.approx(30.0)


def test_load_csv():
    text = """sku,name,quantity,unit_cost,reorder_level
TL-001,Hammer,4,10.50,2
FS-100,Screws,0,0.05,50
"""
    inv = load_csv(text)
    assert len(inv) == 2
    assert inv.get("TL-001").quantity == 4
    assert inv.get("TL-001").unit_cost == pytest.approx(10.5)
    assert inv.get("FS-100").quantity == 0
    assert len(inv.history()) == 1


def test_load_csv_errors():
    with pytest.raises(ValueError):
        load_csv("sku,name,quantity\nA,B,1\n")
    with pytest.raises(ValueError):
        load_csv("sku,name,quantity,unit_cost,reorder_level\nA,B,lots,1,0\n")


def test_format_report_and_categories():
    inv = make()
    inv.receive("TL-001", 3, 10.0)
    inv.receive("TL-002", 1, 8.0)
    inv.receive("FS-100", 10, 0.05)
    assert format_report(inv) == "\n".join([
        "sku,name,quantity,value",
        "FS-100,Screws,10,0.50",
        "TL-001,Hammer,3,30.00",
        "TL-002,Wrench,1,8.00",
        "TOTAL,,,38.50",
    ])
    totals = category_totals(inv)
    assert totals.keys() == {"FS", "TL"}
    assert totals["TL"] == pytest.approx(38.0)
