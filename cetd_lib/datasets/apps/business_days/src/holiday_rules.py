"""Helpers for computing movable holiday dates.  The calendar itself never
invents holidays - callers build a list with these helpers and pass it in."""
from __future__ import annotations

import calendar
from datetime import date, timedelta


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday via the anonymous computus."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` (Mon=0..Sun=6) of a month; n=-1 means the last one."""
    if not 0 <= weekday <= 6:
        raise ValueError("weekday must be 0..6")
    if n == 0 or n < -1:
        raise ValueError("n must be positive or -1")
    if n == -1:
        last = date(year, month, calendar.monthrange(year, month)[1])
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    if day.month != month:
        raise ValueError(f"month has no occurrence number {n}")
    return day


def observed(day: date) -> date:
    """Shift a fixed-date holiday that falls on a weekend: Sat -> Fri, Sun -> Mon."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day
