"""A meter's consumption as the billing engine reads it: a profile of local days and quarter hours.

Read from the readings store's rollups (the same 15-minute buckets `consumo` answers from), never
raw readings. Only days the day rollups show with data are read, so a cycle before the first
reading costs nothing. Each day's coverage is the rollup's own (the share of the day's time
between readings at most an hour apart), not "a bucket arrived": energy spread over a long gap is
counted, as everywhere else, but does not make the day look covered.

A tariff without time-of-use posts prices a cycle by its total kWh alone, so for it (`hours=False`)
each day's energy is read at once and laid evenly over its quarter hours: the invoice is the same
and a listing of ten years of invoices reads 3,650 days instead of 350,000 buckets.
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from servidor.billing import PerfilConsumo, PlanoTarifario, Postos, profile_from_intervals
from servidor.billing.calendar import day_bounds
from servidor.billing.usage import DiaConsumo
from servidor.domain.meters import Meter
from servidor.store.interface import ReadingsBackend

BUCKET_MS = 15 * 60_000
WH_PER_KWH = 1000.0
_COVERAGE = Decimal("0.0001")


def needs_hours(plans: list[PlanoTarifario], first: date, last: date) -> bool:
    """Whether any version of these tariffs in force between two days has time-of-use posts."""
    for plan in plans:
        for index, version in enumerate(plan.versoes):
            following = plan.versoes[index + 1].vigencia if index + 1 < len(plan.versoes) else date.max
            if isinstance(version.energia, Postos) and version.vigencia <= last and following > first:
                return True
    return False


class UsageReader:
    def __init__(self, readings: ReadingsBackend) -> None:
        self._readings = readings

    def profile(self, meter: Meter, first: date, last: date, *, hours: bool) -> PerfilConsumo:
        """The local days [first, last] that have data, by quarter hour when `hours`."""
        tz = meter.tz
        days = self._readings.day_energy(meter.stream, first, last)
        intervals = []
        coverage: dict[date, Decimal] = {}
        energy = self._readings.energy
        stream = meter.stream
        for day in sorted(days):
            wh, covered = days[day]
            start, end = day_bounds(tz, day)
            if end <= start or start % BUCKET_MS or end % BUCKET_MS:
                continue  # a day the zone skipped, or an offset off the quarter hour (before 1980)
            coverage[day] = min(Decimal(1), (Decimal(covered) / Decimal(end - start))).quantize(_COVERAGE, ROUND_HALF_UP)
            if not hours:
                # The day's energy in its first hour-long interval per hour, evenly: only totals matter.
                count = (end - start) // 3_600_000
                share = max(wh, 0.0) / WH_PER_KWH / count
                intervals.extend((start + n * 3_600_000, start + (n + 1) * 3_600_000, share) for n in range(count))
                continue
            for bucket in range(start, end, BUCKET_MS):
                bucket_wh, _ = energy(stream, bucket, bucket + BUCKET_MS)
                intervals.append((bucket, bucket + BUCKET_MS, bucket_wh / WH_PER_KWH))
        profile = profile_from_intervals(tz, intervals)
        return PerfilConsumo({day: DiaConsumo(day, found.kwh, coverage.get(day, found.cobertura))
                              for day, found in profile.dias.items()})

