"""Consumption profiles: store intervals to local quarter hours, nothing created or lost."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servidor.billing.calendar import day_bounds
from servidor.billing.cycles import cycle_named
from servidor.billing.errors import InvalidConsumption
from servidor.billing.holiday_calendar import HOLIDAY, HolidayCalendar
from servidor.billing.usage import cycle_usage, profile_from_intervals, prorate, split_exact
from tests.billing_support import HOUR_MS, QUARTER_MS, TZ

NEW_YORK = ZoneInfo("America/New_York")


def day_start(tz, day):
    return day_bounds(tz, day)[0]


def test_an_hourly_value_is_spread_over_its_four_quarter_hours():
    start = day_start(TZ, date(2026, 3, 1)) + 18 * HOUR_MS
    profile = profile_from_intervals(TZ, [(start, start + HOUR_MS, D("1.2"))])
    day = profile.dias[date(2026, 3, 1)]
    assert day.kwh[18 * 4:19 * 4] == (D("0.3"),) * 4
    assert sum(day.kwh) == D("1.2")
    assert day.cobertura == D("0.0417")  # one hour of 24


def test_floats_from_the_store_are_read_as_typed():
    start = day_start(TZ, date(2026, 3, 1))
    profile = profile_from_intervals(TZ, [(start, start + QUARTER_MS, 0.1), (start + QUARTER_MS, start + 2 * QUARTER_MS, "0.2")])
    assert profile.dias[date(2026, 3, 1)].kwh[:2] == (D("0.1"), D("0.2"))


@pytest.mark.parametrize("intervals, message", [
    ([(0, QUARTER_MS, D(-1))], "consumo inválido"),
    ([(0, QUARTER_MS, D(20_000))], "consumo inválido"),
    ([(0, QUARTER_MS, "x")], "não é um número"),
    ([(0, 2 * HOUR_MS, D(1))], "de 15 a 60 minutos"),
    ([(0, 600_000, D(1))], "de 15 a 60 minutos"),
    ([(QUARTER_MS, 2 * QUARTER_MS, D(1)), (0, QUARTER_MS, D(1))], "fora de ordem ou sobrepostos"),
    ([(300_000, 300_000 + QUARTER_MS, D(1))], "quarto de hora local"),
])
def test_bad_intervals_are_refused_with_the_reason(intervals, message):
    with pytest.raises(InvalidConsumption, match=message):
        profile_from_intervals(TZ, intervals)


def test_a_half_hour_zone_keeps_its_local_quarter_hours():
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30: local 00:00 is 18:30 UTC the day before
    start = day_start(kolkata, date(2026, 3, 2))
    profile = profile_from_intervals(kolkata, [(start + 18 * HOUR_MS, start + 18 * HOUR_MS + QUARTER_MS, D(1))])
    assert profile.dias[date(2026, 3, 2)].kwh[18 * 4] == D(1)


def test_daylight_saving_days_lose_and_repeat_nothing():
    # New York, 2026-03-08 has 23 hours and 2026-11-01 has 25: a quarter hour every 15 min of each.
    for day, hours in ((date(2026, 3, 8), 23), (date(2026, 11, 1), 25)):
        start = day_start(NEW_YORK, day)
        intervals = [(start + i * QUARTER_MS, start + (i + 1) * QUARTER_MS, D("0.1")) for i in range(hours * 4)]
        profile = profile_from_intervals(NEW_YORK, intervals)
        found = profile.dias[day]
        assert sum(found.kwh) == D("0.1") * hours * 4
        assert found.cobertura == 1
        if hours == 23:
            assert found.kwh[2 * 4] == 0  # 02:00 never happened
        else:
            assert found.kwh[1 * 4] == D("0.2")  # 01:00 happened twice


def test_cycle_usage_puts_holidays_apart_and_counts_days_with_data():
    ciclo = cycle_named(2026, 4)  # Good Friday 03/04 and Tiradentes 21/04
    start = ciclo.bounds_ms(TZ)[0]
    intervals = [(ts, ts + HOUR_MS, D(1)) for ts in range(start, start + 10 * 86_400_000, HOUR_MS)]
    usage = cycle_usage(profile_from_intervals(TZ, intervals), ciclo, HolidayCalendar())
    assert usage.kwh == 240 and usage.dias_com_dados == 10
    assert usage.cobertura == D("0.3333")
    assert sum(usage.matriz[HOLIDAY]) == 24  # 03/04 only: 21/04 has no data
    assert [day for day, _ in usage.feriados] == [date(2026, 4, 3), date(2026, 4, 21)]


@given(st.lists(st.decimals(0, 1000, places=6), min_size=1, max_size=30))
def test_split_exact_keeps_the_rounded_total_and_no_part_is_negative(values):
    parts = split_exact(values)
    assert sum(parts) == sum(values).quantize(D("0.001"), rounding="ROUND_HALF_UP")
    assert all(part >= 0 for part in parts)


@given(st.decimals(0, 100_000, places=3), st.lists(st.integers(1, 31), min_size=1, max_size=5))
def test_prorate_shares_kwh_by_days_exactly(total, days):
    parts = prorate(total, days)
    assert sum(parts) == total
    for part, day in zip(parts, days):
        assert abs(part - total * day / sum(days)) <= D("0.001")
