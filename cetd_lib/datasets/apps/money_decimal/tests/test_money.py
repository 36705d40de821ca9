from decimal import Decimal

import pytest

from currency import get_currency
from money import CurrencyMismatchError, Money, parse_money, sum_money


def test_amount_is_rounded_half_up_to_currency_exponent():
    assert Money("10.005", "USD").amount == Decimal("10.01")
    assert Money("10.004", "USD").amount == Decimal("10.00")
    assert Money("2.5", "JPY").amount == Decimal("3")
    assert Money("1.2345", "BHD").amount == Decimal("1.235")


def test_float_amount_is_rejected():
    with pytest.raises(TypeError):
        Money(1.5, "USD")


def test_unknown_currency_raises_value_error():
    with pytest.raises(ValueError):
        Money("1", "XYZ")
    with pytest.raises(ValueError):
        get_currency("ABC")


def test_get_currency_is_case_insensitive():
    cur = get_currency("jpy")
    assert cur.code == "JPY"
    assert cur.exponent == 0


def test_addition_and_subtraction_same_currency():
    total = Money("10.10", "EUR") + Money("0.95", "EUR")
    assert total == Money("11.05", "EUR")
    assert Money("5", "EUR") - Money("7.5", "EUR") == Money("-2.50", "EUR")


def test_mixing_currencies_raises_mismatch():
    with pytest.raises(CurrencyMismatchError):
        Money("1", "USD") + Money("1", "EUR")
    with pytest.raises(ValueError):
        Money("1", "USD") < Money("2", "GBP")


def test_multiplication_rounds_result():
    assert Money("19.99", "USD") * 3 == Money("59.97", "USD")
    assert Money("10.00", "USD") * Decimal("0.075") == Money("0.75", "USD")
    assert 2 * Money("1.25", "GBP") == Money("2.50", "GBP")


def test_minor_units_round_trip():
    m = Money("123.45", "USD")
    assert m.minor_units == 12345
    assert Money.from_minor_units(12345, "USD") == m
    assert Money.from_minor_units(1500, "JPY").amount == Decimal("1500")


def test_allocate_distributes_remainder_to_first_shares():
    parts = Money("100.00", "USD").allocate([1, 1, 1])
    assert [p.amount for p in parts] == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert sum(p.minor_units for p in parts) == 10000


def test_allocate_by_uneven_ratios_and_zero_ratio():
    parts = Money("0.05", "USD").allocate([3, 7])
    assert [p.minor_units for p in parts] == [2, 3]
    parts = Money("10", "EUR").allocate([0, 1])
    assert [p.amount for p in parts] == [Decimal("0.00"), Decimal("10.00")]


def test_allocate_rejects_bad_ratios():
    with pytest.raises(ValueError):
        Money("1", "USD").allocate([])
    with pytest.raises(ValueError):
        Money("1", "USD").allocate([0, 0])


def test_split_negative_amount():
    parts = Money("-1.00", "USD").split(3)
    assert [p.minor_units for p in parts] == [-34, -33, -33]


def test_str_and_comparisons():
    assert str(Money("5", "USD")) == "5.00 USD"
    assert str(Money("1500", "JPY")) == "1500 JPY"
    assert Money("1", "USD") < Money("1.01", "USD")
    assert Money("3", "USD") >= Money("3.00", "USD")
    assert Money("0", "USD").is_zero()


def test_parse_money_both_orders():
    assert parse_money("12.5 USD") == Money("12.50", "USD")
    assert parse_money("eur 7") == Money("7", "EUR")
    with pytest.raises(ValueError):
        parse_money("12.5")


def test_sum_money():
    items = [Money("1.10", "USD"), Money("2.20", "USD"), Money("3.30", "USD")]
    assert sum_money(items, "USD") == Money("6.60", "USD")
    assert sum_money([], "GBP") == Money("0", "GBP")
