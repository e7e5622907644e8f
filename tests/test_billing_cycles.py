"""Billing cycles: from one reading day to the next, named by the month the bill is issued in."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servidor.billing.cycles import (check_reading_day, closed_cycles, cycle_for_day, cycle_named, parse_cycle,
                                     previous_cycles)
from servidor.billing.errors import InvalidCycle
from tests.billing_support import TZ

reading_days = st.one_of(st.none(), st.integers(1, 28))
days = st.dates(date(1971, 1, 1), date(2200, 12, 31))


def test_a_cycle_runs_from_the_previous_reading_day_and_is_named_by_the_issue_month():
    ciclo = cycle_named(2026, 3, dia_leitura=10)
    assert (ciclo.primeiro_dia, ciclo.ultimo_dia, ciclo.dias) == (date(2026, 2, 10), date(2026, 3, 9), 28)
    assert ciclo.rotulo == "março/2026"
    assert cycle_for_day(date(2026, 3, 9), 10) == ciclo    # the day before the reading: still this cycle
    assert cycle_for_day(date(2026, 3, 10), 10).nome == "2026-04"  # the reading day opens the next


def test_without_a_reading_day_the_cycle_is_the_calendar_month():
    ciclo = cycle_named(2028, 2)
    assert (ciclo.primeiro_dia, ciclo.ultimo_dia, ciclo.dias) == (date(2028, 2, 1), date(2028, 2, 29), 29)
    assert cycle_for_day(date(2028, 2, 29)) == ciclo


def test_january_cycles_start_in_december():
    assert cycle_named(2026, 1, 28).primeiro_dia == date(2025, 12, 28)
    assert cycle_for_day(date(2025, 12, 30), 28).nome == "2026-01"


def test_the_api_accepts_a_month_or_a_day():
    assert parse_cycle("2026-03", 10) == cycle_named(2026, 3, 10)
    assert parse_cycle("2026-03-15", 10) == cycle_named(2026, 4, 10)
    for bad in ("2026-13", "março", "2026-02-30", ""):
        with pytest.raises(InvalidCycle):
            parse_cycle(bad, 10)


@pytest.mark.parametrize("value", [0, 29, 31, True, "5", 5.0])
def test_reading_day_must_be_1_to_28(value):
    with pytest.raises(InvalidCycle, match="dia_leitura deve ser um inteiro de 1 a 28"):
        check_reading_day(value)


@given(days, reading_days)
def test_every_day_is_in_exactly_the_cycle_found_for_it(day, reading_day):
    ciclo = cycle_for_day(day, reading_day)
    assert ciclo.contains(day)
    year, month = map(int, ciclo.nome.split("-"))
    assert cycle_named(year, month, reading_day) == ciclo  # both ways
    assert parse_cycle(ciclo.nome, reading_day) == ciclo
    assert cycle_for_day(ciclo.ultimo_dia + timedelta(days=1), reading_day).primeiro_dia == ciclo.ultimo_dia + timedelta(days=1)
    assert 28 <= ciclo.dias <= 31


@given(days, reading_days, st.integers(1, 24))
def test_consecutive_cycles_tile_the_calendar(day, reading_day, count):
    cycles = previous_cycles(cycle_for_day(day, reading_day), count)
    assert len(cycles) == count
    for before, after in zip(cycles, cycles[1:]):
        assert after.primeiro_dia == before.ultimo_dia + timedelta(days=1)


def test_closed_cycles_stop_before_the_open_one():
    cycles = closed_cycles(date(2026, 11, 30), 12, 10)
    assert [c.nome for c in cycles][-2:] == ["2026-10", "2026-11"]  # 2026-12 (10/11–09/12) is still open
    assert cycles[0].nome == "2025-12"


def test_cycle_instants_are_local_midnights():
    start, end = cycle_named(2026, 3, 10).bounds_ms(TZ)
    assert (end - start) == 28 * 86_400_000
    assert start % 3_600_000 == 0 and start // 3_600_000 % 24 == 3  # 00:00 in São Paulo is 03:00 UTC


def test_too_many_cycles_are_refused():
    with pytest.raises(InvalidCycle, match="de 1 a 120"):
        previous_cycles(cycle_named(2026, 3), 121)
