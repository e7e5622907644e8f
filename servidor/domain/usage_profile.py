"""A meter's consumption as the billing engine reads it: a profile of local days and quarter hours.

Read from the readings store's rollups (the same 15-minute buckets `consumo` answers from), never
raw readings, and only for the days the day rollups show with data, so a cycle before the first
reading costs nothing. Each day's coverage is the rollup's own (the share of the day's time between
readings at most an hour apart), not "a bucket arrived": energy spread over a long gap is counted,
as everywhere else, but does not make the day look covered.

How finely a day is read depends on what the tariffs need (`Resolution`), and the bill comes out
the same at every step: a tariff without time-of-use posts prices a cycle by its total kWh (each
day's energy is read at once and laid evenly over its quarter hours); posts whose windows start and
end on whole hours price every quarter of an hour alike (each hour is read once and split in four);
only a window at :15, :30 or :45 needs every 15-minute bucket. A year of Tarifa Branca is then
8,760 reads instead of 35,040 (bench/billing.py). Days of 24 hours are laid out here; a day of 23
or 25 hours (a summer-time change) goes through the engine's profile_from_intervals, which knows
where the repeated or skipped hour falls.
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from servidor.billing import PerfilConsumo, PlanoTarifario, Postos, profile_from_intervals
from servidor.billing.calendar import day_bounds
from servidor.billing.prices import SLOTS_PER_DAY
from servidor.billing.usage import DiaConsumo
from servidor.domain.meters import Meter
from servidor.store.interface import ReadingsBackend

BUCKET_MS = 15 * 60_000
HOUR_MS = 60 * 60_000
DAY_MS = 24 * HOUR_MS
WH_PER_KWH = 1000.0
_COVERAGE = Decimal("0.0001")
_ZERO = Decimal(0)


class Resolution(Enum):
    """Milliseconds read at a time."""

    DAY = DAY_MS
    HOUR = HOUR_MS
    QUARTER = BUCKET_MS


def resolution(plans: list[PlanoTarifario], first: date, last: date) -> Resolution:
    """The coarsest reading that bills these tariffs exactly between two days."""
    found = Resolution.DAY
    for plan in plans:
        for index, version in enumerate(plan.versoes):
            following = plan.versoes[index + 1].vigencia if index + 1 < len(plan.versoes) else date.max
            energy = version.energia
            if not isinstance(energy, Postos) or version.vigencia > last or following <= first:
                continue
            if any(w.start_minute % 60 or w.end_minute % 60 for w in energy.janelas):
                return Resolution.QUARTER
            found = Resolution.HOUR
    return found


def _kwh(wh: float) -> Decimal:
    return Decimal(repr(wh / WH_PER_KWH)) if wh > 0 else _ZERO


class UsageReader:
    def __init__(self, readings: ReadingsBackend) -> None:
        self._readings = readings

    def profile(self, meter: Meter, first: date, last: date, step: Resolution) -> PerfilConsumo:
        """The local days [first, last] that have data, read `step` at a time."""
        tz = meter.tz
        stream = meter.stream
        energy = self._readings.energy
        found: dict[date, DiaConsumo] = {}
        irregular: list[tuple[int, int, float]] = []
        coverage: dict[date, Decimal] = {}
        for day, (wh, covered) in sorted(self._readings.day_energy(stream, first, last).items()):
            start, end = day_bounds(tz, day)
            if end <= start or start % BUCKET_MS or end % BUCKET_MS:
                continue  # a day the zone skipped, or an offset off the quarter hour (before 1980)
            coverage[day] = min(Decimal(1), Decimal(covered) / Decimal(end - start)).quantize(_COVERAGE, ROUND_HALF_UP)
            if step is Resolution.DAY:
                share = _kwh(wh) / SLOTS_PER_DAY
                found[day] = DiaConsumo(day, (share,) * SLOTS_PER_DAY, coverage[day])
                continue
            length = step.value
            if end - start != DAY_MS:
                irregular.extend((t, t + length, energy(stream, t, t + length)[0] / WH_PER_KWH)
                                 for t in range(start, end, length))
                continue
            quarters = length // BUCKET_MS
            row: list[Decimal] = []
            for t in range(start, end, length):
                kwh = _kwh(energy(stream, t, t + length)[0])
                row.extend((kwh / quarters if quarters > 1 and kwh else kwh,) * quarters)
            found[day] = DiaConsumo(day, tuple(row), coverage[day])
        for day, day_profile in profile_from_intervals(tz, irregular).dias.items():
            found[day] = DiaConsumo(day, day_profile.kwh, coverage.get(day, day_profile.cobertura))
        return PerfilConsumo(found)
