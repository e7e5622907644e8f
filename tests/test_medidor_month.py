"""The local month count behind the limit alert, and Tesla's tempsgravacio averaging."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from medidor.month import MonthState, MonthTracker
from medidor.recording import WindowAverager
from medidor.sources import Measurement

TZ = ZoneInfo("America/Sao_Paulo")


def ms(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=TZ).timestamp() * 1000)


def test_alert_once_when_the_month_passes_the_limit() -> None:
    tracker = MonthTracker(TZ, limit_kwh=10.0)
    assert tracker.observe(ms(2026, 11, 1, 0, 5), 100_000.0) is None
    assert tracker.observe(ms(2026, 11, 10), 109_000.0) is None
    alert = tracker.observe(ms(2026, 11, 20), 110_500.0)
    assert alert == "ALERTA: consumo de novembro/2026 chegou a 10,5 kWh, acima do limite de 10,0 kWh"
    assert tracker.observe(ms(2026, 11, 21), 115_000.0) is None
    assert tracker.kwh == pytest.approx(15.0)


def test_new_month_starts_from_the_last_counter_of_the_previous() -> None:
    tracker = MonthTracker(TZ, limit_kwh=5.0)
    tracker.observe(ms(2026, 11, 30, 23, 50), 50_000.0)
    tracker.observe(ms(2026, 12, 1, 0, 10), 50_400.0)
    assert tracker.kwh == pytest.approx(0.4)
    assert tracker.state.mes == "2026-12"


def test_state_survives_a_restart_and_a_new_limit_re_arms() -> None:
    tracker = MonthTracker(TZ, 1.0, MonthState("2026-11", 0.0, "2026-11"))
    assert tracker.observe(ms(2026, 11, 5), 5_000.0) is None  # already shown this month
    tracker.set_limit(2.0)
    assert tracker.observe(ms(2026, 11, 6), 6_000.0) is not None


def test_counter_reset_restarts_the_count() -> None:
    tracker = MonthTracker(TZ, 100.0)
    tracker.observe(ms(2026, 11, 2), 9_000.0)
    tracker.observe(ms(2026, 11, 3), 10.0)
    tracker.observe(ms(2026, 11, 4), 1_010.0)
    assert tracker.kwh == pytest.approx(1.0)


def m(ts: int, wh: float, w: float, tpf: tuple[float, ...] = (220.0, 221.0, 219.0)) -> Measurement:
    return Measurement(ts, wh, w, (("PAT", w), ("TPF", tpf)))


def test_window_average_per_code_with_the_last_counter() -> None:
    averager = WindowAverager(15, TZ)
    assert averager.add(m(ms(2026, 11, 3, 10, 0), 100.0, 1000.0, (220.0, 220.0, 220.0))) is None
    assert averager.add(m(ms(2026, 11, 3, 10, 14, 59), 120.0, 2000.0, (230.0, 222.0, 210.0))) is None
    closed = averager.add(m(ms(2026, 11, 3, 10, 15), 125.0, 500.0))
    assert closed is not None
    assert closed.ts_ms == ms(2026, 11, 3, 10, 14, 59) and closed.energia_wh == 120.0
    assert closed.potencia_w == 1500.0
    assert dict(closed.medidas) == {"PAT": 1500.0, "TPF": (225.0, 221.0, 215.0)}
    assert averager.pending == 1


def test_window_length_must_divide_an_hour() -> None:
    with pytest.raises(ValueError):
        WindowAverager(7, TZ)
