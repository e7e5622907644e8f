"""Consumption rollups: 15-minute buckets and local days, kept right whatever the arrival order."""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from shared.models import Reading
from servidor.store.readings.block import Columns
from servidor.store.readings.columns import MeterColumns
from servidor.store.readings.flows import MONOTONIC, pair_flow
from servidor.store.readings.rollups import BUCKET_MS, LONG_SPAN_MS, MAX_COVERED_GAP_MS, MeterRollup

HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % BUCKET_MS  # a bucket edge
ZONES = [timezone.utc, ZoneInfo("Asia/Kolkata"), ZoneInfo("Europe/Lisbon"), ZoneInfo("America/Sao_Paulo"),
         ZoneInfo("Asia/Kathmandu")]


def meter_with(readings: list[Reading], tz=timezone.utc, batches: int = 0) -> MeterColumns:
    meter = MeterColumns(MeterRollup(tz))
    if batches:
        step = max(1, len(readings) // batches)
        for i in range(0, len(readings), step):
            meter.insert(Columns.from_readings(readings[i:i + step]))
    else:
        for reading in readings:
            meter.insert(Columns.from_readings([reading]))
    return meter


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


# Readings of one meter: gaps from 0 (same instant) to beyond a long span, counters that
# mostly rise and sometimes fall (a reset).
steps = st.lists(st.tuples(
    st.one_of(st.integers(0, 20 * 60_000), st.integers(0, 3 * HOUR), st.integers(LONG_SPAN_MS, LONG_SPAN_MS + 2 * 86_400_000)),
    st.one_of(st.floats(0, 500), st.floats(-1000, 0)),
), min_size=1, max_size=25)


def build(step_list) -> list[Reading]:
    ts, energy, out = T0 + 123_456, 5000.0, []
    for seq, (gap, change) in enumerate(step_list):
        ts += gap
        energy = max(0.0, energy + change)
        out.append(Reading(seq, ts, energy))
    return out


@given(steps, st.randoms(use_true_random=False), st.sampled_from(ZONES), st.integers(0, 3))
@settings(deadline=None, max_examples=150)
def test_any_arrival_order_gives_the_same_buckets_and_days_as_in_order(step_list, rng, tz, batches):
    readings = build(step_list)
    shuffled = list(readings)
    rng.shuffle(shuffled)
    ordered = meter_with(readings, tz)
    mixed = meter_with(shuffled, tz, batches)
    assert list(mixed.seq) == list(ordered.seq)
    first, last = readings[0].ts_ms, readings[-1].ts_ms
    lo, hi = first - first % BUCKET_MS, last - last % BUCKET_MS + BUCKET_MS
    for bucket in set(ordered.rollup._buckets) | set(mixed.rollup._buckets):
        a, b = ordered.rollup.energy(bucket * BUCKET_MS, (bucket + 1) * BUCKET_MS), mixed.rollup.energy(
            bucket * BUCKET_MS, (bucket + 1) * BUCKET_MS)
        assert close(a[0], b[0]) and a[1] == b[1]
    days_a = ordered.rollup.day_energy(date(2000, 1, 1), date(2100, 1, 1))
    days_b = mixed.rollup.day_energy(date(2000, 1, 1), date(2100, 1, 1))
    assert days_a.keys() == days_b.keys()
    for day in days_a:
        assert close(days_a[day][0], days_b[day][0]) and days_a[day][1] == days_b[day][1]
    # Total = every pair's energy in time order (flows.py: rises, nothing across a reset, a
    # glitch's return carrying the movement from before the glitch), never negative.
    ts, energia = [r.ts_ms for r in readings], [r.energia_wh for r in readings]
    expected = sum(pair_flow(MONOTONIC, ts, energia, i)[0] for i in range(1, len(readings)))
    assert close(mixed.rollup.energy(lo, hi)[0], expected)
    assert close(sum(wh for wh, _ in days_b.values()), expected)


def test_pair_across_bucket_edges_is_spread_in_proportion_to_time():
    rollup = MeterRollup()
    rollup.add_pair(T0 + 600_000, 0.0, T0 + 1_500_000, 90.0)  # 5 min in bucket 0, 10 min in bucket 1
    assert rollup.energy(T0, T0 + BUCKET_MS) == (pytest.approx(30.0), 300_000)
    assert rollup.energy(T0 + BUCKET_MS, T0 + 2 * BUCKET_MS) == (pytest.approx(60.0), 600_000)


def test_gap_longer_than_the_covered_limit_counts_energy_but_not_time():
    rollup = MeterRollup()
    rollup.add_pair(T0, 0.0, T0 + MAX_COVERED_GAP_MS + BUCKET_MS, 45.0)
    wh, covered = rollup.energy(T0, T0 + 8 * BUCKET_MS)
    assert wh == pytest.approx(45.0) and covered == 0


def test_gap_of_exactly_the_covered_limit_is_covered():
    rollup = MeterRollup()
    rollup.add_pair(T0, 0.0, T0 + MAX_COVERED_GAP_MS, 10.0)
    assert rollup.energy(T0, T0 + 8 * BUCKET_MS) == (pytest.approx(10.0), MAX_COVERED_GAP_MS)


def test_readings_at_the_same_instant_put_their_delta_in_that_bucket():
    meter = meter_with([Reading(1, T0 + 5, 10.0), Reading(2, T0 + 5, 12.5)])
    assert meter.rollup.energy(T0, T0 + BUCKET_MS) == (2.5, 0)


def test_counter_reset_never_gives_negative_consumption():
    meter = meter_with([Reading(1, T0, 1000.0), Reading(2, T0 + 60_000, 5.0), Reading(3, T0 + 120_000, 8.0)])
    assert meter.rollup.energy(T0, T0 + BUCKET_MS) == (pytest.approx(3.0), 120_000)


def test_late_reading_between_neighbours_replaces_their_pair():
    meter = meter_with([Reading(1, T0, 0.0), Reading(3, T0 + 2 * BUCKET_MS, 20.0)])
    meter.insert(Columns.from_readings([Reading(2, T0 + BUCKET_MS, 18.0)]))
    assert meter.rollup.energy(T0, T0 + BUCKET_MS)[0] == pytest.approx(18.0)
    assert meter.rollup.energy(T0 + BUCKET_MS, T0 + 2 * BUCKET_MS)[0] == pytest.approx(2.0)


def test_silence_of_months_is_kept_as_one_span_and_apportioned_by_query():
    rollup = MeterRollup()
    start, end = ms("2024-01-01T00:00:00+00:00"), ms("2024-04-01T00:00:00+00:00")
    rollup.add_pair(start, 0.0, end, 9100.0)  # 91 days, 100 Wh a day
    assert len(rollup._buckets) == 0
    assert rollup.energy(ms("2024-02-01T00:00:00+00:00"), ms("2024-02-02T00:00:00+00:00")) == (pytest.approx(100.0), 0)
    days = rollup.day_energy(date(2024, 3, 30), date(2024, 4, 5))
    assert list(days) == [date(2024, 3, 30), date(2024, 3, 31)]
    assert days[date(2024, 3, 31)][0] == pytest.approx(100.0)


def test_misaligned_energy_range_is_refused():
    with pytest.raises(ValueError):
        MeterRollup().energy(T0 + 1, T0 + BUCKET_MS)


def every_ten_minutes(start: str, end: str, wh_per_step: float = 1.0) -> list[Reading]:
    a, b = ms(start), ms(end)
    return [Reading(i, t, i * wh_per_step) for i, t in enumerate(range(a, b + 1, 600_000))]


@pytest.mark.parametrize("zone, day, hours", [
    ("Europe/Lisbon", date(2024, 3, 31), 23),
    ("Europe/Lisbon", date(2024, 10, 27), 25),
    ("America/Sao_Paulo", date(2018, 11, 4), 23),   # clocks went 00:00 -> 01:00: the day starts at 01:00
    ("America/Sao_Paulo", date(2018, 2, 17), 25),   # 23:00-24:00 happened twice
])
def test_days_of_23_and_25_hours_sum_their_real_length(zone, day, hours):
    tz = ZoneInfo(zone)
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(timezone.utc)
    readings = every_ten_minutes((midnight - timedelta(days=1)).isoformat(), (midnight + timedelta(days=2)).isoformat())
    meter = meter_with(readings, tz, batches=1)
    wh, covered = meter.rollup.day_energy(day, day)[day]
    assert covered == hours * HOUR
    assert wh == pytest.approx(hours * 6)  # 1 Wh every 10 minutes


def test_kolkata_days_start_at_1830_utc():
    tz = ZoneInfo("Asia/Kolkata")
    meter = meter_with(every_ten_minutes("2024-05-01T18:00:00+00:00", "2024-05-01T19:00:00+00:00"), tz)
    days = meter.rollup.day_energy(date(2024, 5, 1), date(2024, 5, 2))
    assert days == {date(2024, 5, 1): (pytest.approx(3.0), 30 * 60_000), date(2024, 5, 2): (pytest.approx(3.0), 30 * 60_000)}


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Asia/Kathmandu", "America/Sao_Paulo", "Europe/Lisbon"])
def test_set_timezone_regroups_days_like_a_meter_built_in_that_zone(zone):
    tz = ZoneInfo(zone)
    readings = every_ten_minutes("2024-03-29T00:00:00+00:00", "2024-04-02T00:00:00+00:00", 2.5)
    later = meter_with(readings, timezone.utc, batches=1)
    later.rollup.set_timezone(tz)
    native = meter_with(readings, tz, batches=1)
    first, last = date(2024, 3, 1), date(2024, 4, 30)
    assert later.rollup.day_energy(first, last) == native.rollup.day_energy(first, last)
    assert len(native.rollup.day_energy(first, last)) == 5
