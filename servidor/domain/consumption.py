"""Consumption in a meter's local calendar, answered from the store's rollups, never raw readings.

A `consumo` query costs work per period and per day it spans (a period's energy apportions every
long gap that crosses it), so its cost is bounded before anything is computed: periods × days
spanned at most MAX_QUERY_COST, refused with the numbers otherwise. It also takes a turn of the
heavy-read gate, so a few of them cannot starve ingest.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from servidor.billing.calendar import day_bounds, local_buckets, local_date, month_bounds
from servidor.domain.categories import bucket_figures, export_stream
from servidor.domain.errors import InvalidInput, TooCostly
from servidor.domain.gate import HeavyReads
from servidor.domain.meters import Meter
from servidor.store.interface import ReadingsBackend
from shared.models import format_timestamp

WH_PER_KWH = 1000.0
# Power "now" is the last reading's, if that reading is recent; older than this it is stale and
# the meter is reported without power rather than with a number that is no longer true.
POWER_FRESH_MS = 15 * 60 * 1000
# Periods × days spanned. A month of hours (744 × 31), a year of days (365 × 365) and ten years
# of months (120 × 3,653) fit; a year of hours (8,760 × 365 = 3.2 M) is refused: it took seconds
# on a meter whose readings were a week apart, where every hour apportions each long gap.
MAX_QUERY_COST = 500_000
DAY_MS = 86_400_000
# The shortest length of each period, to estimate the number of periods before making them.
_SHORTEST_MS = {"hora": 3_600_000 // 2, "dia": 23 * 3_600_000, "mes": 28 * DAY_MS}


@dataclass(frozen=True, slots=True)
class MonthWindow:
    """A local calendar month: its number, its instants [start, end) and its first/last days."""

    year: int
    month: int
    start_ms: int
    end_ms: int
    first: date
    last: date

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@lru_cache(maxsize=4096)
def month_window(tz: ZoneInfo, year: int, month: int) -> MonthWindow:
    """The month's bounds, computed once per zone and month (ValueError for a bad month)."""
    start, end = month_bounds(tz, year, month)
    first = date(year, month, 1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return MonthWindow(year, month, start, end, first, last)


@dataclass(frozen=True, slots=True)
class Energy:
    kwh: float
    cobertura: float  # fraction of the period's time covered by readings


def query_cost(interval: str, start_ms: int, end_ms: int) -> tuple[int, int, int]:
    """(periods at most, days spanned, their product) of a `consumo` query."""
    span = max(end_ms - start_ms, 0)
    periods = span // _SHORTEST_MS[interval] + 2  # a partial period at each end
    days = max(1, math.ceil(span / DAY_MS))
    return periods, days, periods * days


class Consumption:
    def __init__(self, readings: ReadingsBackend, heavy: HeavyReads) -> None:
        self._readings = readings
        self._heavy = heavy
        # Zone → the month holding "now" there. Each ingest checks the month's total against the
        # meter's limit; the calendar math behind it changes once a month.
        self._windows: dict[str, MonthWindow] = {}

    def current_month(self, meter: Meter, now_ms: int) -> MonthWindow:
        window = self._windows.get(meter.fuso)
        if window is None or not window.start_ms <= now_ms < window.end_ms:
            today = local_date(meter.tz, now_ms)
            window = self._windows[meter.fuso] = month_window(meter.tz, today.year, today.month)
        return window

    def month_kwh_now(self, meter: Meter, now_ms: int) -> tuple[float, MonthWindow]:
        """This month's kWh so far, from the per-day rollups, without coverage (the cheap path)."""
        window = self.current_month(meter, now_ms)
        totals = self._readings.day_energy(meter.stream, window.first, window.last)
        return max(0.0, sum(v[0] for v in totals.values())) / WH_PER_KWH, window

    def month(self, meter: Meter, window: MonthWindow) -> Energy:
        return self._days(meter, window.first, window.last, window.start_ms, window.end_ms)

    def day(self, meter: Meter, day: date) -> Energy:
        start, end = day_bounds(meter.tz, day)
        return self._days(meter, day, day, start, end)

    def _days(self, meter: Meter, first: date, last: date, start_ms: int, end_ms: int) -> Energy:
        """Energy of local days [first, last] spanning the instants [start_ms, end_ms)."""
        totals = self._readings.day_energy(meter.stream, first, last)
        wh = sum(v[0] for v in totals.values())
        covered = sum(v[1] for v in totals.values())
        length = end_ms - start_ms
        return Energy(max(wh, 0.0) / WH_PER_KWH, min(1.0, covered / length) if length > 0 else 0.0)

    def two_way(self, meter: Meter) -> bool:
        """Whether the meter reports export: a net counter, or a second (exported) counter."""
        return meter.categoria == "gridNet" or self._readings.count(export_stream(meter)) > 0

    def buckets(self, meter: Meter, interval: str, start_ms: int, end_ms: int, now_ms: int) -> list[dict[str, Any]]:
        """The API's `consumo` rows: rotulo, inicio, fim, the category's figures
        (categories.bucket_figures), cobertura; `parcial` for now's.

        InvalidInput for a range the calendar refuses, TooCostly past MAX_QUERY_COST, Busy when
        the heavy-read gate stays full."""
        if start_ms >= end_ms:
            return []
        periods, days, cost = query_cost(interval, start_ms, end_ms)
        if cost > MAX_QUERY_COST:
            raise TooCostly(f"consulta grande demais: até {periods} períodos de '{interval}' × {days} dias = {cost} "
                            f"(máximo {MAX_QUERY_COST}); peça um período menor ou um intervalo maior")
        tz = meter.tz
        two_way = self.two_way(meter)
        with self._heavy.turn():
            try:
                spans = local_buckets(tz, interval, start_ms, end_ms)
            except ValueError as exc:
                raise InvalidInput(str(exc)) from None
            energies = self._energies(meter.stream, meter, interval, spans)
            exported = [0.0] * len(spans)
            if two_way:
                for stream, flag in ((meter.stream, True), (export_stream(meter), False)):
                    for k, (wh, _) in enumerate(self._energies(stream, meter, interval, spans, exported=flag)):
                        exported[k] += wh
        rows = []
        for bucket, (wh, covered), wh_out in zip(spans, energies, exported):
            length = bucket.fim_ms - bucket.inicio_ms
            row = {
                "rotulo": bucket.rotulo,
                "inicio": format_timestamp(bucket.inicio_ms, tz),
                "fim": format_timestamp(bucket.fim_ms, tz),
                **bucket_figures(meter, max(wh, 0.0), max(wh_out, 0.0), two_way),
                "cobertura": round(min(1.0, covered / length), 4) if length > 0 else 0.0,
            }
            if bucket.inicio_ms <= now_ms < bucket.fim_ms:
                row["parcial"] = True
            rows.append(row)
        return rows

    def _energies(self, stream: str, meter: Meter, interval: str, spans: list, *,
                  exported: bool = False) -> list[tuple[float, int]]:
        """(Wh, covered ms) of each bucket of `stream` (with `exported`, its export rollup)."""
        if interval == "hora":
            return [self._readings.energy(stream, b.inicio_ms, b.fim_ms, exported=exported) for b in spans]
        return self._day_sums(stream, meter, spans, exported)

    def _day_sums(self, stream: str, meter: Meter, spans: list, exported: bool = False) -> list[tuple[float, int]]:
        """(Wh, covered ms) of each day or month bucket from one read of the day rollups."""
        tz = meter.tz
        days = self._readings.day_energy(stream, local_date(tz, spans[0].inicio_ms),
                                         local_date(tz, spans[-1].fim_ms - 1), exported=exported)
        out = []
        for bucket in spans:
            first, last = local_date(tz, bucket.inicio_ms), local_date(tz, bucket.fim_ms - 1)
            wh, covered = 0.0, 0
            day = first
            while day <= last:
                entry = days.get(day)
                if entry is not None:
                    wh += entry[0]
                    covered += entry[1]
                day += timedelta(days=1)
            out.append((wh, covered))
        return out

    def power_now(self, meter: Meter, now_ms: int) -> float | None:
        """The last reading's power, or the mean power between the last two counters."""
        last = self._readings.last(meter.stream)
        if last is None or now_ms - last.ts_ms > POWER_FRESH_MS:
            return None
        if last.potencia_w is not None:
            return last.potencia_w
        before = self._readings.previous(meter.stream)
        if before is None or last.ts_ms <= before.ts_ms:
            return None
        if last.energia_wh < before.energia_wh and meter.categoria != "gridNet":
            return None  # a reset or a glitch: no power to tell
        return (last.energia_wh - before.energia_wh) * 3_600_000.0 / (last.ts_ms - before.ts_ms)

    def exported_kwh(self, meter: Meter, first: date, last: date) -> float:
        """kWh the meter sent to the grid over local days [first, last] (0 for one-way meters)."""
        wh = sum(v[0] for v in self._readings.day_energy(meter.stream, first, last, exported=True).values())
        wh += sum(v[0] for v in self._readings.day_energy(export_stream(meter), first, last).values())
        return max(wh, 0.0) / WH_PER_KWH

    def month_progress(self, meter: Meter, now_ms: int) -> tuple[Energy, MonthWindow]:
        """This month's energy so far, and the month."""
        window = self.current_month(meter, now_ms)
        return self.month(meter, window), window
