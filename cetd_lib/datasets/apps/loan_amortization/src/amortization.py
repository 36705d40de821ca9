"""Fixed-rate loan amortization: payment size, full schedules and payoff time.

All money values are rounded to cents with the built-in round(x, 2).
Rates are annual nominal rates given as fractions (0.06 means 6 %) and are
compounded monthly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


def _validate(principal: float, annual_rate: float) -> None:
    if principal <= 0:
        raise ValueError("principal must be positive")
    if annual_rate < 0:
        raise ValueError("annual_rate cannot be negative")


def monthly_payment(principal: float, annual_rate: float, months: int) -> float:
    """Level monthly payment that repays `principal` in `months` months."""
    _validate(principal, annual_rate)
    if months <= 0:
        raise ValueError("months must be positive")
    r = annual_rate / 12
    if r == 0:
        return round(principal / months, 2)
    factor = (1 + r) ** months
    return round(principal * r * factor / (factor - 1), 2)


def payoff_months(principal: float, annual_rate: float, payment: float) -> int:
    """Number of monthly payments of `payment` needed to clear the loan.

    The last payment may be smaller than the others.  A payment that does not
    exceed the first month's interest never pays the loan off -> ValueError.
    """
    _validate(principal, annual_rate)
    r = annual_rate / 12
    if payment <= principal * r or payment <= 0:
        raise ValueError("payment too small to ever repay the loan")
    if r == 0:
        return math.ceil(principal / payment - 1e-9)
    n = -math.log(1 - r * principal / payment) / math.log(1 + r)
    return math.ceil(n - 1e-9)


@dataclass(frozen=True)
class Installment:
    period: int
    payment: float
    interest: float
    principal: float
    balance: float


class AmortizationSchedule:
    """Month-by-month breakdown of a fixed-rate loan.

    Each month the interest is round(balance * rate / 12, 2) and the rest of
    the level payment reduces the balance.  The final installment pays off
    whatever balance is left, so the closing balance is exactly 0.
    """

    def __init__(self, principal: float, annual_rate: float, months: int) -> None:
        self.principal = principal
        self.annual_rate = annual_rate
        self.months = months
        self.payment = monthly_payment(principal, annual_rate, months)
        self._rows = self._build()

    def _build(self) -> list[Installment]:
        rows: list[Installment] = []
        balance = round(self.principal, 2)
        r = self.annual_rate / 12
        for period in range(1, self.months + 1):
            interest = round(balance * r, 2)
            if period == self.months:
                toward_principal = balance
            else:
                toward_principal = round(self.payment - interest, 2)
            payment = round(interest + toward_principal, 2)
            balance = round(balance - toward_principal, 2)
            rows.append(Installment(period, payment, interest, toward_principal, balance))
        return rows

    def rows(self) -> list[Installment]:
        return list(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, period: int) -> Installment:
        """Installment for a 1-based period number."""
        if not 1 <= period <= len(self._rows):
            raise IndexError(period)
        return self._rows[period - 1]

    def total_interest(self) -> float:
        return round(sum(row.interest for row in self._rows), 2)

    def total_paid(self) -> float:
        return round(sum(row.payment for row in self._rows), 2)

    def balance_after(self, period: int) -> float:
        """Outstanding balance after `period` payments (0 -> the principal)."""
        if period == 0:
            return round(self.principal, 2)
        return self[period].balance


def schedule_as_text(schedule: AmortizationSchedule) -> str:
    """Render a simple fixed-width table, one line per installment."""
    lines = [f"{'#':>4} {'payment':>12} {'interest':>12} {'principal':>12} {'balance':>14}"]
    for row in schedule.rows():
        lines.append(
            f"{row.period:>4} {row.payment:>12.2f} {row.interest:>12.2f} "
            f"{row.principal:>12.2f} {row.balance:>14.2f}"
        )
    return "\n".join(lines)
