"""Consumption as billing needs it: kWh per local day and quarter hour, summed per cycle.

A post of Tarifa Branca depends only on the local wall clock and the kind of day, so a profile
keeps, for each local day, 96 quarter-hour kWh. A repeated hour at a fall-back change adds into
the same quarter hours (both belong to the same post) and a skipped one stays at zero: nothing
is lost. An hourly value is spread evenly over its four quarter hours, which matters only for a
post boundary at :15, :30 or :45.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from servidor.billing.calendar import day_bounds
from shared.money import to_decimal
from servidor.billing.cycles import Ciclo
from servidor.billing.errors import InvalidConsumption
from servidor.billing.fields import KWH_QUANTUM, ZERO
from servidor.billing.holiday_calendar import DAY_KINDS, HolidayCalendar
from servidor.billing.prices import SLOT_MINUTES, SLOTS_PER_DAY

_SLOT_MS = SLOT_MINUTES * 60_000
_HOUR_MS = 3_600_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# An interval is one 15-minute bucket of the readings store or one hour; longer ones would hide
# which post their energy belongs to.
MAX_INTERVAL_MS = _HOUR_MS
# A household peaks at ~15 kW and a small business at a few hundred: 10 MWh in one hour is an
# error in the data, not consumption.
MAX_KWH_PER_INTERVAL = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class DiaConsumo:
    """One local day: kWh of its 96 quarter hours and the share of the day with data (0–1)."""

    dia: date
    kwh: tuple[Decimal, ...]
    cobertura: Decimal

    def __post_init__(self) -> None:
        if len(self.kwh) != SLOTS_PER_DAY:
            raise InvalidConsumption(f"um dia tem {SLOTS_PER_DAY} quartos de hora", "kwh")
        if not ZERO <= self.cobertura <= 1:
            raise InvalidConsumption("cobertura deve estar entre 0 e 1", "cobertura")


@dataclass(frozen=True, slots=True, eq=False)
class PerfilConsumo:
    """Local days with consumption; a day absent has no data (not zero consumption)."""

    dias: Mapping[date, DiaConsumo]

    @property
    def first_day(self) -> date | None:
        return min(self.dias) if self.dias else None


def _local_slot(tz: ZoneInfo, ts_ms: int) -> tuple[date, int]:
    """(local date, quarter hour of the day) of an instant that starts a local quarter hour."""
    moment = (_EPOCH + timedelta(milliseconds=ts_ms)).astimezone(tz)
    if moment.minute % SLOT_MINUTES or moment.second or moment.microsecond:
        raise InvalidConsumption("intervalos de consumo devem começar num quarto de hora local", "consumo")
    return moment.date(), (moment.hour * 60 + moment.minute) // SLOT_MINUTES


def _kwh(raw: object) -> Decimal:
    # Decimal and float are what the store hands over, 35,040 times a year: test their types
    # before the general conversion.
    if type(raw) is float:
        value = Decimal(repr(raw))
    elif type(raw) is Decimal:
        value = raw
    else:
        try:
            value = to_decimal(raw, "kwh")  # type: ignore[arg-type]
        except ValueError as exc:
            raise InvalidConsumption(str(exc), "consumo") from None
    if not value.is_finite() or value < 0 or value > MAX_KWH_PER_INTERVAL:
        raise InvalidConsumption(f"consumo inválido num intervalo: {raw} kWh", "consumo")
    return value


class _Grid:
    """Quarter-hour rows per local day, filled from instants with one zone lookup per UTC hour."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.rows: dict[date, list[Decimal]] = {}
        self.covered: dict[date, int] = {}
        # UTC hour → (its day's row, the day, its first quarter hour), or None for an hour
        # holding an offset change (or starting off a local quarter hour), converted each time.
        self.hours: dict[int, tuple[list[Decimal], date, int] | None] = {}

    def _row(self, day: date) -> list[Decimal]:
        row = self.rows.get(day)
        if row is None:
            row = self.rows[day] = [ZERO] * SLOTS_PER_DAY
            self.covered[day] = 0
        return row

    def add(self, ts_ms: int, kwh: Decimal) -> None:
        hour = ts_ms // _HOUR_MS
        if hour not in self.hours:
            start = (_EPOCH + timedelta(milliseconds=hour * _HOUR_MS)).astimezone(self.tz)
            end = (_EPOCH + timedelta(milliseconds=(hour + 1) * _HOUR_MS)).astimezone(self.tz)
            entry = None
            if start.utcoffset() == end.utcoffset() and start.minute % SLOT_MINUTES == 0:
                day = start.date()
                entry = (self._row(day), day, (start.hour * 60 + start.minute) // SLOT_MINUTES)
            self.hours[hour] = entry
        entry = self.hours[hour]
        offset = ts_ms - hour * _HOUR_MS
        if entry is not None and offset % _SLOT_MS == 0:
            row, day, slot = entry
            slot += offset // _SLOT_MS
            if slot < SLOTS_PER_DAY:
                row[slot] += kwh
                self.covered[day] += _SLOT_MS
                return
        day, slot = _local_slot(self.tz, ts_ms)
        self._row(day)[slot] += kwh
        self.covered[day] += _SLOT_MS


def profile_from_intervals(tz: ZoneInfo, intervals: Iterable[tuple[int, int, object]]) -> PerfilConsumo:
    """A profile from (start_ms, end_ms, kWh) intervals of 15 to 60 minutes, in time order.

    kWh may be Decimal, int, numeric text or float (read through its repr). Raises
    InvalidConsumption (pt-BR) for a negative or absurd value, an interval not on local quarter
    hours, longer than an hour, or overlapping the one before.
    """
    grid = _Grid(tz)
    hours = grid.hours
    covered = grid.covered
    previous_end = -1
    for start, end, raw in intervals:
        if start < previous_end:
            raise InvalidConsumption("intervalos de consumo fora de ordem ou sobrepostos", "consumo")
        previous_end = end
        length = end - start
        if length == _SLOT_MS:
            # The common case, 35,040 times a year: a 15-minute bucket inside an hour already seen.
            # _Grid.add does the same; inlined here it saves a quarter of the profile's time (bench).
            kwh = Decimal(repr(raw)) if type(raw) is float else raw if type(raw) is Decimal else _kwh(raw)
            if not ZERO <= kwh <= MAX_KWH_PER_INTERVAL:  # also false for NaN
                _kwh(kwh)
            hour = start // _HOUR_MS
            entry = hours.get(hour)
            offset = start - hour * _HOUR_MS
            if entry is not None and offset % _SLOT_MS == 0:
                row, day, slot = entry
                slot += offset // _SLOT_MS
                if slot < SLOTS_PER_DAY:
                    row[slot] += kwh
                    covered[day] += _SLOT_MS
                    continue
            grid.add(start, kwh)
            continue
        if length <= 0 or length > MAX_INTERVAL_MS or length % _SLOT_MS:
            raise InvalidConsumption("cada intervalo de consumo deve ter de 15 a 60 minutos, em quartos de hora", "consumo")
        kwh = _kwh(raw)
        parts = length // _SLOT_MS
        share = kwh / parts
        for part in range(parts):
            grid.add(start + part * _SLOT_MS, share)
    days = {}
    for day, row in grid.rows.items():
        if not grid.covered[day]:
            continue  # a day whose row was made ready for an hour that held no data of it
        first, following = day_bounds(tz, day)
        coverage = min(Decimal(1), Decimal(grid.covered[day]) / Decimal(following - first))
        days[day] = DiaConsumo(day, tuple(row), coverage.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))
    return PerfilConsumo(days)


@dataclass(frozen=True, slots=True, eq=False)
class UsoCiclo:
    """A cycle's consumption: kWh by kind of day (0–6 weekday, 7 holiday) and quarter hour."""

    ciclo: Ciclo
    matriz: tuple[tuple[Decimal, ...], ...]
    kwh: Decimal
    dias_com_dados: int
    cobertura: Decimal
    feriados: tuple[tuple[date, str], ...]
    calendario: HolidayCalendar


def cycle_usage(perfil: PerfilConsumo, ciclo: Ciclo, calendar: HolidayCalendar) -> UsoCiclo:
    """Sum a profile's days of one cycle by the kind of day `calendar` gives each."""
    matrix = [[ZERO] * SLOTS_PER_DAY for _ in range(DAY_KINDS)]
    with_data = 0
    coverage = ZERO
    holidays = []
    for day in ciclo.days():
        kind = calendar.day_kind(day)
        if kind == DAY_KINDS - 1:
            holidays.append((day, calendar.name(day) or "Feriado"))
        found = perfil.dias.get(day)
        if found is None:
            continue
        with_data += 1
        coverage += found.cobertura
        row = matrix[kind]
        for slot, value in enumerate(found.kwh):
            if value:
                row[slot] += value
    total = sum((sum(row, ZERO) for row in matrix), ZERO)
    return UsoCiclo(
        ciclo, tuple(tuple(row) for row in matrix), total, with_data,
        (coverage / ciclo.dias).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), tuple(holidays), calendar,
    )


def split_exact(values: Iterable[Decimal], quantum: Decimal = KWH_QUANTUM) -> list[Decimal]:
    """Each value rounded so that the parts add up to the rounded total exactly, none negative.

    Rounds the running sums, not the values: part i is round(v1+…+vi) − round(v1+…+vi−1).
    """
    parts = []
    running = ZERO
    before = ZERO
    for value in values:
        running += value
        rounded = running.quantize(quantum, rounding=ROUND_HALF_UP)
        parts.append(rounded - before)
        before = rounded
    return parts


def prorate(total: Decimal, days: list[int]) -> list[Decimal]:
    """`total` kWh shared by days (ANEEL's pro rata), each part to 0,001 kWh, parts summing exactly."""
    whole = sum(days)
    return split_exact([total * day / whole for day in days])
