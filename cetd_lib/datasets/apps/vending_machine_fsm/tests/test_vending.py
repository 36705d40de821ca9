import pytest

from change import format_cents, make_change
from vending import (
    InsufficientFunds,
    InvalidCoin,
    SoldOut,
    State,
    StateError,
    UnknownSlot,
    VendingError,
    VendingMachine,
)


def stocked_machine():
    m = VendingMachine()
    m.enter_service()
    m.stock("A1", "Cola", 125, 2)
    m.stock("B2", "Chips", 65, 0)
    m.exit_service()
    return m


def test_make_change_greedy():
    assert make_change(0) == []
    assert make_change(140) == [100, 25, 10, 5]
    assert make_change(60) == [25, 25, 10]


def test_make_change_errors():
    with pytest.raises(ValueError):
        make_change(-5)
    with pytest.raises(ValueError):
        make_change(7)


def test_format_cents():
    assert format_cents(125) == "$1.25"
    assert format_cents(5) == "$0.05"
    assert format_cents(-250) == "-$2.50"


def test_new_machine_is_idle():
    m = VendingMachine()
    assert m.state is State.IDLE
    assert m.balance == 0


def test_insert_coins_moves_to_collecting():
    m = stocked_machine()
    assert m.insert(25) == 25
    assert m.insert(100) == 125
    assert m.state is State.COLLECTING


def test_invalid_coin_rejected():
    m = stocked_machine()
    with pytest.raises(InvalidCoin):
        m.insert(3)
    with pytest.raises(ValueError):
        m.insert(50)
    assert m.balance == 0 and m.state is State.IDLE


def test_successful_purchase_with_change():
    m = stocked_machine()
    m.insert(100)
    m.insert(100)
    name, change = m.select("A1")
    assert name == "Cola"
    assert change == [25, 25, 25]
    assert m.state is State.IDLE
    assert m.balance == 0
    assert m.slots["A1"].quantity == 1
    assert m.sales == 125


def test_insufficient_funds_keeps_credit():
    m = stocked_machine()
    m.insert(100)
    with pytest.raises(InsufficientFunds) as info:
        m.select("A1")
    assert info.value.needed == 25
    assert m.balance == 100
    assert m.state is State.COLLECTING


def test_sold_out_and_unknown_slot():
    m = stocked_machine()
    m.insert(100)
    with pytest.raises(SoldOut):
        m.select("B2")
    with pytest.raises(UnknownSlot):
        m.select("Z9")
    with pytest.raises(KeyError):
        m.select("Z9")
    assert issubclass(SoldOut, VendingError)


def test_select_without_credit_is_state_error():
    m = stocked_machine()
    with pytest.raises(StateError):
        m.select("A1")


def test_cancel_refunds():
    m = stocked_machine()
    m.insert(25)
    m.insert(10)
    m.insert(10)
    assert m.cancel() == [25, 10, 10]
    assert m.state is State.IDLE
    assert m.cancel() == []


def test_service_mode_blocks_sales_and_refunds():
    m = stocked_machine()
    m.insert(100)
    assert m.enter_service() == [100]
    assert m.state is State.SERVICE
    with pytest.raises(StateError):
        m.insert(25)
    with pytest.raises(StateError):
        m.cancel()
    m.exit_service()
    with pytest.raises(StateError):
        m.exit_service()


def test_stock_rules():
    m = VendingMachine()
    with pytest.raises(StateError):
        m.stock("A1", "Cola", 125, 1)
    m.enter_service()
    with pytest.raises(ValueError):
        m.stock("A1", "Cola", 123, 1)
    with pytest.raises(ValueError):
        m.stock("A1", "Cola", 125, -1)
    m.stock("A1", "Cola", 125, 1)
    m.stock("A1", "Diet Cola", 150, 2)
    slot = m.slots["A1"]
    assert (slot.name, slot.price, slot.quantity) == ("Diet Cola", 150, 3)
