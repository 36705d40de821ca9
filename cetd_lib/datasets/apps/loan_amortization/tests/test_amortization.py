import pytest

from amortization import (
    AmortizationSchedule,
    Installment,
    monthly_payment,
    payoff_months,
    schedule_as_text,
)


def test_monthly_payment_classic_mortgage():
    assert monthly_payment(200000, 0.06, 360) == pytest.approx(1199.10, abs=0.005)


def test_monthly_payment_short_loan():
    assert monthly_payment(10000, 0.05, 12) == pytest.approx(856.07, abs=0.005)


def test_monthly_payment_zero_rate_is_straight_division():
    assert monthly_payment(1200, 0.0, 12) == pytest.approx(100.0)
    assert monthly_payment(1000, 0.0, 3) == pytest.approx(333.33, abs=0.005)


def test_invalid_inputs_raise_value_error():
    with pytest.raises(ValueError):
        monthly_payment(0, 0.05, 12)
    with pytest.raises(ValueError):
        monthly_payment(1000, -0.01, 12)
    with pytest.raises(ValueError):
        monthly_payment(1000, 0.05, 0)


def test_schedule_length_and_first_row():
    sched = AmortizationSchedule(10000, 0.05, 12)
    assert len(sched) == 12
    first = sched[1]
    assert isinstance(first, Installment)
    assert first.period == 1
    assert first.payment == pytest.approx(856.07, abs=0.005)
    assert first.interest == pytest.approx(41.67, abs=0.005)
    assert first.principal == pytest.approx(814.40, abs=0.005)
    assert first.balance == pytest.approx(9185.60, abs=0.005)


def test_schedule_final_row_clears_balance():
    sched = AmortizationSchedule(10000, 0.05, 12)
    last = sched.rows()[-1]
    assert last.period == 12
    assert last.balance == pytest.approx(0.0, abs=1e-9)
    assert last.payment == pytest.approx(856.12, abs=0.015)
    assert sum(r.principal for r in sched.rows()) == pytest.approx(10000.0, abs=1e-6)


def test_schedule_totals():
    sched = AmortizationSchedule(10000, 0.05, 12)
    assert sched.total_interest() == pytest.approx(272.89, abs=0.03)
    assert sched.total_paid() == pytest.approx(10000 + sched.total_interest(), abs=0.01)


def test_zero_rate_schedule_last_payment_absorbs_rounding():
    rows = AmortizationSchedule(1000, 0.0, 3).rows()
    assert [r.payment for r in rows] == pytest.approx([333.33, 333.33, 333.34])
    assert all(r.interest == 0 for r in rows)


def test_balance_after_and_index_errors():
    sched = AmortizationSchedule(1000, 0.12, 3)
    assert sched.balance_after(0) == pytest.approx(1000.0)
    assert sched.balance_after(1) == pytest.approx(669.98, abs=0.005)
    assert sched.balance_after(3) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(IndexError):
        sched[0]
    with pytest.raises(IndexError):
        sched[4]


def test_balances_strictly_decrease():
    balances = [r.balance for r in AmortizationSchedule(50000, 0.07, 60).rows()]
    assert all(b1 > b2 for b1, b2 in zip(balances, balances[1:]))


def test_payoff_months():
    assert payoff_months(10000, 0.05, 900) == 12
    assert payoff_months(1000, 0.0, 300) == 4
    assert payoff_months(1000, 0.0, 250) == 4


def test_payoff_months_payment_too_small():
    with pytest.raises(ValueError):
        payoff_months(10000, 0.12, 100)


def test_schedule_as_text_has_header_and_rows():
    text = schedule_as_text(AmortizationSchedule(1000, 0.12, 3))
    lines = text.splitlines()
    assert len(lines) == 4
    assert "payment" in lines[0] and "balance" in lines[0]
    assert lines[1].split() == ["1", "340.02", "10.00", "330.02", "669.98"]
    assert lines[3].split()[-1] == "0.00"
