from datetime import date

import pytest

from business_calendar import BusinessCalendar, last_business_day_of_month
from holiday_rules import easter_sunday, nth_weekday, observed

HOLIDAYS = [date(2024, 12, 25), date(2024, 12, 26), date(2025, 1, 1)]


def make_cal():
    return BusinessCalendar(holidays=HOLIDAYS)


def test_weekends_and_holidays_are_not_business_days():
    cal = make_cal()
    assert cal.is_business_day(date(2024, 12, 24))
    assert not cal.is_business_day(date(2024, 12, 25))
    assert not cal.is_business_day(date(2024, 12, 28))  # Saturday
    assert not cal.is_business_day(date(2024, 12, 29))  # Sunday


def test_add_business_days_skips_holidays_and_weekend():
    cal = make_cal()
    assert cal.add_business_days(date(2024, 12, 24), 1) == date(2024, 12, 27)
    assert cal.add_business_days(date(2024, 12, 24), 3) == date(2024, 12, 31)
    assert cal.add_business_days(date(2024, 12, 24), 4) == date(2025, 1, 2)


def test_add_business_days_negative_and_zero():
    cal = make_cal()
    assert cal.add_business_days(date(2025, 1, 2), -2) == date(2024, 12, 30)
    assert cal.add_business_days(date(2024, 12, 27), -1) == date(2024, 12, 24)
    assert cal.add_business_days(date(2024, 12, 28), 0) == date(2024, 12, 28)


def test_add_business_days_from_weekend_start():
    cal = make_cal()
    assert cal.add_business_days(date(2024, 12, 28), 1) == date(2024, 12, 30)


def test_next_previous_and_roll_forward():
    cal = make_cal()
    assert cal.next_business_day(date(2024, 12, 24)) == date(2024, 12, 27)
    assert cal.previous_business_day(date(2024, 12, 27)) == date(2024, 12, 24)
    assert cal.roll_forward(date(2024, 12, 25)) == date(2024, 12, 27)
    assert cal.roll_forward(date(2024, 12, 24)) == date(2024, 12, 24)


def test_business_days_between_is_half_open_and_signed():
    cal = make_cal()
    assert cal.business_days_between(date(2024, 12, 23), date(2025, 1, 3)) == 6
    assert cal.business_days_between(date(2025, 1, 3), date(2024, 12, 23)) == -6
    assert cal.business_days_between(date(2024, 12, 23), date(2024, 12, 23)) == 0


def test_business_days_in_month_and_last_business_day():
    cal = make_cal()
    december = cal.business_days_in_month(2024, 12)
    assert len(december) == 20
    assert december[0] == date(2024, 12, 2)
    assert last_business_day_of_month(cal, 2024, 12) == date(2024, 12, 31)
    assert last_business_day_of_month(cal, 2024, 11) == date(2024, 11, 29)


def test_custom_weekend():
    cal = BusinessCalendar(weekend=(4, 5))  # Friday + Saturday
    assert not cal.is_business_day(date(2024, 12, 27))
    assert cal.is_business_day(date(2024, 12, 29))
    assert cal.next_business_day(date(2024, 12, 26)) == date(2024, 12, 29)


def test_invalid_weekend_raises():
    with pytest.raises(ValueError):
        BusinessCalendar(weekend=(7,))
    with pytest.raises(ValueError):
        BusinessCalendar(weekend=range(7))


def test_easter_sunday_known_years():
    assert easter_sunday(2024) == date(2024, 3, 31)
    assert easter_sunday(2025) == date(2025, 4, 20)
    assert easter_sunday(2000) == date(2000, 4, 23)


def test_nth_weekday():
    assert nth_weekday(2024, 11, 3, 4) == date(2024, 11, 28)  # 4th Thursday
    assert nth_weekday(2024, 5, 0, -1) == date(2024, 5, 27)  # last Monday
    assert nth_weekday(2024, 1, 0, 3) == date(2024, 1, 15)


def test_nth_weekday_out_of_range_raises():
    with pytest.raises(ValueError):
        nth_weekday(2023, 2, 3, 5)  # February 2023 has only four Thursdays
    with pytest.raises(ValueError):
        nth_weekday(2024, 2, 3, 0)


def test_observed_shifts_weekend_holidays():
    assert observed(date(2026, 7, 4)) == date(2026, 7, 3)
    assert observed(date(2027, 7, 4)) == date(2027, 7, 5)
    assert observed(date(2024, 7, 4)) == date(2024, 7, 4)


def test_calendar_built_from_rule_helpers():
    easter = easter_sunday(2025)
    cal = BusinessCalendar(holidays=[date(easter.year, easter.month, easter.day - 2)])
    assert not cal.is_business_day(date(2025, 4, 18))
    assert cal.business_days_between(date(2025, 4, 14), date(2025, 4, 21)) == 4
