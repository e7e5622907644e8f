"""Alert rules: monthly limit, projection, silence and counter resets."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servidor.domain.alert_rules import (
    LIMITE_EXCEDIDO,
    MIN_ELAPSED_FOR_PROJECTION_MS,
    PROJECAO_LIMITE,
    REINICIO_CONTADOR,
    SILENCIO,
    Finding,
    evaluate_month,
    evaluate_silence,
    format_duration,
    reset_finding,
)
from servidor.billing.calendar import local_date, month_bounds

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
HOUR = 3_600_000
DAY = 24 * HOUR
NOV_START, NOV_END = month_bounds(SAO_PAULO, 2026, 11)


def month(limite, kwh, now):
    return evaluate_month(limite, kwh, now, NOV_START, NOV_END, SAO_PAULO, (2026, 11))


def test_consumption_over_the_limit_is_reported_once_per_month():
    assert month(500, 612.4, NOV_START + 10 * DAY) == [Finding(
        LIMITE_EXCEDIDO, "limite:2026-11", "Consumo do mês (612,40 kWh) passou do limite de 500,00 kWh")]


def test_pace_that_passes_the_limit_names_the_local_day():
    # 220 kWh in 10 days is 22 kWh/day: 500 kWh after 22.7 days, on the 23rd.
    (finding,) = month(500, 220, NOV_START + 10 * DAY)
    assert finding == Finding(PROJECAO_LIMITE, "projecao:2026-11",
                              "Neste ritmo, o consumo passa do limite de 500,00 kWh no dia 23")


def test_projection_day_is_counted_in_the_local_calendar():
    # 10 days at 45 kWh/day reaches 450 at exactly 10 days: 00:00 local on the 11th, 03:00 UTC.
    (finding,) = month(450, 450 * 0.5, NOV_START + 5 * DAY)
    assert finding.mensagem.endswith("no dia 11")


def test_no_projection_in_the_first_day_of_the_month():
    assert month(500, 100, NOV_START + MIN_ELAPSED_FOR_PROJECTION_MS - 1) == []
    assert month(500, 100, NOV_START + MIN_ELAPSED_FOR_PROJECTION_MS) != []


def test_pace_under_the_limit_finds_nothing():
    assert month(500, 100, NOV_START + 15 * DAY) == []


def test_no_limit_finds_nothing_and_a_negative_limit_is_refused():
    assert month(None, 10_000, NOV_START + 15 * DAY) == []
    with pytest.raises(ValueError, match="limite"):
        month(-1, 1, NOV_START)


def test_no_projection_once_the_month_has_ended():
    assert month(500, 499, NOV_END) == []


def test_consumption_equal_to_the_limit_is_not_over_it():
    findings = month(500, 500, NOV_END - HOUR)
    assert [f.tipo for f in findings] == [PROJECAO_LIMITE]


@given(
    limite=st.floats(1, 10_000),
    kwh=st.floats(0, 10_000),
    elapsed=st.integers(0, NOV_END - NOV_START - 1),
)
def test_month_findings_agree_with_the_numbers(limite, kwh, elapsed):
    findings = month(limite, kwh, NOV_START + elapsed)
    assert len(findings) <= 1
    if kwh > limite:
        assert findings[0].tipo == LIMITE_EXCEDIDO
    elif findings:
        assert findings[0].tipo == PROJECAO_LIMITE
        assert elapsed >= MIN_ELAPSED_FOR_PROJECTION_MS
        day = int(findings[0].mensagem.rsplit(" ", 1)[1])
        assert local_date(SAO_PAULO, NOV_START + elapsed).day <= day <= 30


def test_silence_longer_than_the_threshold_says_how_long():
    finding = evaluate_silence(1_000, 1_000 + 2 * HOUR + 15 * 60_000, HOUR)
    assert finding == Finding(SILENCIO, "silencio:1000", "Medidor sem leituras há 2 h 15 min")


def test_same_silence_keeps_its_key_as_it_grows():
    first = evaluate_silence(1_000, 1_000 + 2 * HOUR, HOUR)
    later = evaluate_silence(1_000, 1_000 + 30 * HOUR, HOUR)
    assert first is not None and later is not None
    assert first.chave == later.chave and first.mensagem != later.mensagem


def test_recent_reading_or_never_reported_meter_is_not_silent():
    assert evaluate_silence(1_000, 1_000 + HOUR - 1, HOUR) is None
    assert evaluate_silence(None, 10 * DAY, HOUR) is None
    with pytest.raises(ValueError, match="silêncio"):
        evaluate_silence(0, 1, 0)


@pytest.mark.parametrize(("ms", "text"), [
    (30_000, "menos de 1 min"), (45 * 60_000, "45 min"), (2 * HOUR, "2 h"),
    (2 * HOUR + 15 * 60_000, "2 h 15 min"), (DAY, "1 dia"), (3 * DAY + 4 * HOUR + 59_000, "3 dias 4 h"),
])
def test_durations_read_as_people_say_them(ms, text):
    assert format_duration(ms) == text


def test_counter_reset_names_values_and_local_time_with_offset():
    ts = int(datetime(2026, 11, 22, 17, 5, tzinfo=timezone.utc).timestamp()) * 1000
    assert reset_finding(ts, 12_345_678, 120, SAO_PAULO) == Finding(
        REINICIO_CONTADOR, "reinicio",
        "Contador do medidor voltou de 12.345,678 kWh para 0,120 kWh em 22/11/2026 14:05 (UTC-03:00)")


def test_counter_reset_in_a_repeated_hour_is_told_apart_by_its_offset():
    first = int(datetime(2019, 2, 17, 1, 30, tzinfo=timezone.utc).timestamp()) * 1000
    second = first + HOUR
    messages = {reset_finding(ts, 2000, 0, SAO_PAULO).mensagem for ts in (first, second)}
    assert len(messages) == 2
    assert all("16/02/2019 23:30" in m for m in messages)
