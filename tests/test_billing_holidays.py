"""The days Tarifa Branca bills all fora de ponta: weekends, national holidays, ANEEL's extras."""
from __future__ import annotations

from datetime import date

from servidor.billing.holiday_calendar import HOLIDAY, HolidayCalendar, easter


def test_easter_dates():
    assert [easter(y) for y in (2024, 2025, 2026, 2038)] == [
        date(2024, 3, 31), date(2025, 4, 20), date(2026, 4, 5), date(2038, 4, 25)]


def test_national_holidays_come_from_the_holidays_package():
    calendar = HolidayCalendar()
    for day in (date(2026, 1, 1), date(2026, 4, 3), date(2026, 4, 21), date(2026, 11, 20), date(2026, 12, 25)):
        assert calendar.is_holiday(day), day
    assert calendar.day_kind(date(2026, 4, 21)) == HOLIDAY
    assert calendar.name(date(2026, 4, 21)) == "Tiradentes"
    assert not calendar.is_holiday(date(2026, 4, 22))
    assert calendar.day_kind(date(2026, 4, 22)) == 2  # a Wednesday


def test_aneel_adds_carnival_tuesday_and_corpus_christi_unless_turned_off():
    assert HolidayCalendar().is_holiday(date(2026, 2, 17))
    assert HolidayCalendar().is_holiday(date(2026, 6, 4))
    assert not HolidayCalendar().is_holiday(date(2026, 2, 16))  # Carnival Monday is a working day
    plain = HolidayCalendar(aneel=False)
    assert not plain.is_holiday(date(2026, 2, 17)) and not plain.is_holiday(date(2026, 6, 4))


def test_a_tariff_adds_its_own_dates():
    calendar = HolidayCalendar(frozenset({date(2026, 7, 9)}))  # São Paulo's 9 de Julho
    assert calendar.is_holiday(date(2026, 7, 9))
    assert calendar.name(date(2026, 7, 9)) == "Feriado da distribuidora"
    assert not HolidayCalendar().is_holiday(date(2026, 7, 9))
