"""Business-day arithmetic over a configurable weekend and holiday set."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable

ONE_DAY = timedelta(days=1)


class BusinessCalendar:
    def __init__(self, holidays: Iterable[date] = (), weekend: Iterable[int] = (5, 6)) -> None:
        self.holidays: frozenset[date] = frozenset(holidays)
        self.weekend: frozenset[int] = frozenset(weekend)
        if any(not 0 <= d <= 6 for d in self.weekend):
            raise ValueError("weekend days must be in 0..6")
        if len(self.weekend) == 7:
            raise ValueError("at least one working weekday is required")

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays

    def next_business_day(self, day: date) -> date:
        """First business day strictly after `day`."""
        day += ONE_DAY
        while not self.is_business_day(day):
            day += ONE_DAY
        return day

    def previous_business_day(self, day: date) -> date:
        """Last business day strictly before `day`."""
        day -= ONE_DAY
        while not self.is_business_day(day):
            day -= ONE_DAY
        return day

    def roll_forward(self, day: date) -> date:
        return day if self.is_business_day(day) else self.next_business_day(day)

    def add_business_days(self, start: date, n: int) -> date:
        """Move n business days from `start` (backwards if n < 0); n == 0 is a no-op."""
        day = start
        step = self.next_business_day if n > 0 else self.previous_business_day
        for _ in range(abs(n)):
            day = step(day)
        return day

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in the half-open range [start, end); negated when end < start."""
        if end < start:
            return -self.business_days_between(end, start)
        count = 0
        day = start
        while day < end:
            if self.is_business_day(day):
                count += 1
            day += ONE_DAY
        return count

    def business_days_in_month(self, year: int, month: int) -> list[date]:
        first = date(year, month, 1)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        out = []
        day = first
        while day < nxt:
            if self.is_business_day(day):
                out.append(day)
            day += ONE_DAY
        return out


def last_business_day_of_month(cal: BusinessCalendar, year: int, month: int) -> date:
    days = cal.business_days_in_month(year, month)
    if not days:
        raise ValueError("month has no business days")
    return days[-1]
