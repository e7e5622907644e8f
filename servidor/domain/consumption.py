"""Consumption in a meter's local calendar, answered from the store's rollups, never raw readings."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from servidor.billing.calendar import day_bounds, local_buckets, local_date, month_bounds
from shared.models import format_timestamp
from servidor.domain.meters import Meter
from servidor.store.interface import ReadingsBackend

WH_PER_KWH = 1000.0
# Power "now" is the last reading's, if that reading is recent; older than this it is stale and
# the meter is reported without power rather than with a number that is no longer true.
POWER_FRESH_MS = 15 * 60 * 1000


@dataclass(frozen=True, slots=True)
class MonthWindow:
    """A local calendar month: its number, its instants [start, end) and its first/last days."""

    year: int
    month: int
    start_ms: int
    end_ms: int
    first: date
    last: date


@dataclass(frozen=True, slots=True)
class Energy:
    kwh: float
    cobertura: float  # fraction of the period's time covered by readings


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


class Consumption:
    def __init__(self, readings: ReadingsBackend) -> None:
        self._readings = readings
        # Zone name → the month holding "now" there. Each ingest request checks the month's
        # total against the meter's limit; the calendar math behind it changes once a month.
        self._windows: dict[str, MonthWindow] = {}

    def current_month(self, meter: Meter, now_ms: int) -> MonthWindow:
        window = self._windows.get(meter.fuso)
        if window is None or not window.start_ms <= now_ms < window.end_ms:
            today = local_date(meter.tz, now_ms)
            start, end = month_bounds(meter.tz, today.year, today.month)
            first = today.replace(day=1)
            last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            window = MonthWindow(today.year, today.month, start, end, first, last)
            self._windows[meter.fuso] = window
        return window

    def month_kwh_now(self, meter: Meter, now_ms: int) -> tuple[float, MonthWindow]:
        """This month's kWh so far, from the per-day rollups, without coverage (the cheap path)."""
        window = self.current_month(meter, now_ms)
        totals = self._readings.day_energy(meter.id, window.first, window.last)
        return max(0.0, sum(v[0] for v in totals.values())) / WH_PER_KWH, window

    def between_days(self, meter: Meter, first: date, last: date) -> Energy:
        """Energy of local days [first, last], inclusive, from the per-day rollups."""
        tz = meter.tz
        totals = self._readings.day_energy(meter.id, first, last)
        wh = sum(v[0] for v in totals.values())
        covered = sum(v[1] for v in totals.values())
        start, _ = day_bounds(tz, first)
        _, end = day_bounds(tz, last)
        return Energy(max(wh, 0.0) / WH_PER_KWH, min(1.0, covered / (end - start)))

    def month(self, meter: Meter, year: int, month: int) -> Energy:
        first = date(year, month, 1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return self.between_days(meter, first, last)

    def day(self, meter: Meter, day: date) -> Energy:
        return self.between_days(meter, day, day)

    def buckets(self, meter: Meter, intervalo: str, de_ms: int, ate_ms: int, now_ms: int) -> list[dict[str, Any]]:
        """The API's `consumo` rows: inicio, fim, kwh, cobertura; `parcial` for the bucket of now."""
        tz = meter.tz
        rows = []
        for bucket in local_buckets(tz, intervalo, de_ms, ate_ms):
            if intervalo == "hora":
                wh, covered = self._readings.energy(meter.id, bucket.inicio_ms, bucket.fim_ms)
                energy = Energy(max(wh, 0.0) / WH_PER_KWH, covered / (bucket.fim_ms - bucket.inicio_ms))
            else:
                first = local_date(tz, bucket.inicio_ms)
                last = local_date(tz, bucket.fim_ms - 1)
                energy = self.between_days(meter, first, last)
            row = {
                "rotulo": bucket.rotulo,
                "inicio": format_timestamp(bucket.inicio_ms, tz),
                "fim": format_timestamp(bucket.fim_ms, tz),
                "kwh": round(energy.kwh, 6),
                "cobertura": round(min(1.0, energy.cobertura), 4),
            }
            if bucket.inicio_ms <= now_ms < bucket.fim_ms:
                row["parcial"] = True
            rows.append(row)
        return rows

    def power_now(self, meter: Meter, now_ms: int) -> float | None:
        """The last reading's power, or the mean power between the last two counters."""
        last = self._readings.last(meter.id)
        if last is None or now_ms - last.ts_ms > POWER_FRESH_MS:
            return None
        if last.potencia_w is not None:
            return last.potencia_w
        before = self._readings.previous(meter.id)
        if before is None or last.ts_ms <= before.ts_ms or last.energia_wh < before.energia_wh:
            return None
        return (last.energia_wh - before.energia_wh) * 3_600_000.0 / (last.ts_ms - before.ts_ms)

    def month_progress(self, meter: Meter, now_ms: int) -> tuple[Energy, int, int]:
        """This month's energy so far, the ms elapsed in the month and the month's length."""
        today = local_date(meter.tz, now_ms)
        start, end = month_bounds(meter.tz, today.year, today.month)
        return self.month(meter, today.year, today.month), now_ms - start, end - start


def finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value
