"""The consumption profile read from a real readings store: reading by the day, the hour or the
quarter hour bills the same, and a summer-time day keeps its repeated hour."""
from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from servidor.billing import (EXAMPLE_FLAGS, Janela, PlanoTarifario, Postos, VersaoTarifa, cycle_named, invoice_for,
                              profile_from_intervals)
from servidor.billing.examples import EXAMPLE_BRANCA, EXAMPLE_CONVENCIONAL
from servidor.billing.calendar import day_bounds
from servidor.domain.meters import Meter
from servidor.domain.usage_profile import BUCKET_MS, Resolution, UsageReader, resolution
from servidor.store.readings import ReadingStore
from shared.models import Reading


def _store(tmp_path: Path, meter: Meter, first: date, days: int, seed: int = 7) -> tuple[ReadingStore, list]:
    """15-minute readings with random consumption over `days` local days from `first`."""
    store = ReadingStore.open(tmp_path / "leituras", durable=False)
    store.set_timezone(meter.stream, meter.tz)
    rng = random.Random(seed)
    start = day_bounds(meter.tz, first)[0]
    energy, readings, intervals = 0.0, [], []
    for n in range(days * 96 + 1):
        ts = start + n * BUCKET_MS
        readings.append(Reading(n, ts, round(energy, 1)))
        wh = round(rng.uniform(10, 600), 1)
        intervals.append((ts, ts + BUCKET_MS, wh / 1000))
        energy += wh
    store.append(meter.stream, readings)
    return store, intervals[:-1]


def test_day_hour_and_quarter_reads_bill_the_same_as_the_engine_on_the_raw_quarters(tmp_path: Path):
    meter = Meter("m", "m", fuso="America/Sao_Paulo")
    store, intervals = _store(tmp_path, meter, date(2026, 3, 1), 31)
    try:
        reader = UsageReader(store)
        cycle = cycle_named(2026, 3)
        exact = profile_from_intervals(meter.tz, intervals)
        for plan in (EXAMPLE_CONVENCIONAL, EXAMPLE_BRANCA):
            expected = invoice_for(plan, cycle, exact, EXAMPLE_FLAGS, "bifasica")
            for step in (Resolution.HOUR, Resolution.QUARTER) + ((Resolution.DAY,) if plan is EXAMPLE_CONVENCIONAL else ()):
                got = invoice_for(plan, cycle, reader.profile(meter, cycle.primeiro_dia, cycle.ultimo_dia, step),
                                  EXAMPLE_FLAGS, "bifasica")
                assert [(l.descricao, l.valor) for l in got.linhas] == [(l.descricao, l.valor) for l in expected.linhas]
                assert got.cobertura == 1
    finally:
        store.close()


def test_the_resolution_is_the_coarsest_that_bills_exactly():
    march, april = date(2026, 3, 1), date(2026, 3, 31)
    assert resolution([EXAMPLE_CONVENCIONAL], march, april) is Resolution.DAY
    assert resolution([EXAMPLE_CONVENCIONAL, EXAMPLE_BRANCA], march, april) is Resolution.HOUR
    quarter = PlanoTarifario("q", "q", (VersaoTarifa(date(2025, 1, 1), Postos(
        EXAMPLE_BRANCA.versoes[0].energia.fora_ponta, (Janela("ponta", "18:30", "21:30"),),
        ponta=EXAMPLE_BRANCA.versoes[0].energia.price_of("ponta"))),))
    assert resolution([quarter], march, april) is Resolution.QUARTER
    assert resolution([quarter], date(2024, 1, 1), date(2024, 1, 31)) is Resolution.DAY  # not yet in force


@pytest.mark.parametrize("step", [Resolution.HOUR, Resolution.QUARTER])
def test_a_fall_back_day_keeps_its_25_hours_of_energy(tmp_path: Path, step: Resolution):
    # New York's clocks go back on 2026-11-01: that local day has 25 hours.
    meter = Meter("ny", "ny", fuso="America/New_York")
    store, intervals = _store(tmp_path, meter, date(2026, 10, 31), 3)
    try:
        profile = UsageReader(store).profile(meter, date(2026, 10, 31), date(2026, 11, 2), step)
        day = date(2026, 11, 1)
        start, end = day_bounds(ZoneInfo("America/New_York"), day)
        assert end - start == 25 * 3_600_000
        stored = sum(kwh for ts, _, kwh in intervals if start <= ts < end)
        assert float(sum(profile.dias[day].kwh)) == pytest.approx(stored, abs=1e-9)
    finally:
        store.close()
