"""Retention (issue 14 #9): readings older than N months downsampled to 15-minute edges leave every
15-minute, daily and monthly total (and so every invoice) unchanged, and the recent readings
untouched."""
from __future__ import annotations

from array import array
from collections import defaultdict
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servidor.store.readings.block import Columns
from servidor.store.readings.columns import MeterColumns
from servidor.store.readings.rollups import BUCKET_MS, MeterRollup
from servidor.store.retention import cut_for, downsample

TZ = ZoneInfo("America/Sao_Paulo")
T0 = 1_785_553_200_000 + 7 * 60_000 + 13_000  # 2026-08-01 00:07:13 -03:00, off every edge
RESET = -1.0

gaps = st.one_of(
    st.integers(1_000, 120_000),  # an agent every few seconds
    st.integers(120_000, 3 * 3_600_000),  # a silence, covered or not (the limit is 65 min)
    st.sampled_from([0, BUCKET_MS - 7_000, 65 * 60_000, 65 * 60_000 + 1, 9 * 86_400_000]),  # edges of the rules
)
rises = st.one_of(st.integers(0, 5_000).map(lambda d: d / 10), st.just(RESET))


def series(steps: list[tuple[int, float]], first_energy: float) -> Columns:
    ts, energy, t, e = [T0], [first_energy], T0, first_energy
    for gap, rise in steps:
        t += gap
        e = e / 7 if rise == RESET else e + rise
        ts.append(t)
        energy.append(round(e, 1))
    n = len(ts)
    return Columns(array("q", range(10, 10 + n)), array("q", ts), array("d", energy),
                   array("d", [float(i % 900) for i in range(n)]), array("B", bytes(n)), None)


def rollup(cols: Columns) -> MeterRollup:
    meter = MeterColumns(MeterRollup(TZ))
    meter.load(cols)
    return meter.rollup


def months(days: dict[date, tuple[float, int]]) -> dict[tuple[int, int], float]:
    out: dict[tuple[int, int], float] = defaultdict(float)
    for day, (wh, _) in days.items():
        out[(day.year, day.month)] += wh
    return dict(out)


def assert_same_totals(before: MeterRollup, after: MeterRollup, first_ms: int, last_ms: int) -> None:
    buckets = set(before._buckets) | set(after._buckets)  # every bucket either one has a figure for
    for bucket in buckets:
        start = bucket * BUCKET_MS
        wh0, covered0 = before.energy(start, start + BUCKET_MS)
        wh1, covered1 = after.energy(start, start + BUCKET_MS)
        assert wh1 == pytest.approx(wh0, rel=1e-9, abs=1e-6) and covered1 == covered0, bucket
    first, last = date.fromtimestamp(first_ms / 1000 - 86_400), date.fromtimestamp(last_ms / 1000 + 86_400)
    days0, days1 = before.day_energy(first, last), after.day_energy(first, last)
    assert days1.keys() == days0.keys()
    for day in days0:
        assert days1[day][0] == pytest.approx(days0[day][0], rel=1e-9, abs=1e-6) and days1[day][1] == days0[day][1], day
    months0, months1 = months(days0), months(days1)
    assert months1 == pytest.approx(months0, rel=1e-9, abs=1e-6)


@given(steps=st.lists(st.tuples(gaps, rises), min_size=2, max_size=300),
       first_energy=st.integers(0, 10**7).map(float), cut_at=st.floats(0, 1.2))
def test_downsampling_keeps_every_bucket_day_and_month_and_the_recent_readings(steps, first_energy, cut_at):
    cols = series(steps, first_energy)
    span = cols.ts[-1] - cols.ts[0]
    cut = (cols.ts[0] + int(span * cut_at)) // BUCKET_MS * BUCKET_MS
    smaller = downsample(cols, cut)
    if smaller is None:
        return
    assert len(smaller) < len(cols)
    assert len(set(smaller.seq)) == len(smaller) and set(smaller.seq) <= set(cols.seq)  # no seq an agent may send
    recent = [(s, t, e) for s, t, e in zip(cols.seq, cols.ts, cols.energia) if t >= cut]
    kept = [(s, t, e) for s, t, e in zip(smaller.seq, smaller.ts, smaller.energia) if t >= cut]
    if kept[:1] != recent[:1] and kept[0][1] == cut:
        kept = kept[1:]  # the counter sampled on the cut itself, where no reading was: the pair across it
    assert kept == recent
    assert all(t % BUCKET_MS == 0 or t in set(cols.ts) for t in smaller.ts)  # an edge, or a reading kept
    assert_same_totals(rollup(cols), rollup(smaller), cols.ts[0], cols.ts[-1])


def test_a_month_of_ten_second_readings_becomes_one_reading_per_quarter_hour():
    steps = [(10_000, 3.0)] * (30 * 8640)
    cols = series(steps, 1000.0)
    cut = cols.ts[-1] // BUCKET_MS * BUCKET_MS - 86_400_000  # everything but the last day
    smaller = downsample(cols, cut)
    assert smaller is not None
    old = sum(1 for t in smaller.ts if t < cut)
    assert old == pytest.approx((cut - cols.ts[0]) / BUCKET_MS, abs=2)
    assert_same_totals(rollup(cols), rollup(smaller), cols.ts[0], cols.ts[-1])
    assert downsample(smaller, cut) is None  # once done, nothing more to do


def test_the_cut_is_n_calendar_months_back_at_utc_midnight():
    assert cut_for(6, date(2026, 11, 30)) == 1_779_926_400_000  # 2026-05-28T00:00Z (day clamped to 28)
    assert cut_for(13, date(2026, 1, 15)) == 1_734_220_800_000  # 2024-12-15T00:00Z


@pytest.mark.slow
def test_a_server_started_with_retencao_meses_keeps_every_invoice_and_day(tmp_path):
    from servidor.app import readings_dir
    from servidor.store.readings import ReadingStore
    from tests.data_support import differences, household, running, server_with_history, what_a_user_sees
    from tests.server_process import start

    db = tmp_path / "db.json"
    server_with_history(db, {"casa": household(1, 20_000, step_min=5)})  # 2026-08-01 to 2026-10-10
    with running(db) as before:
        seen = what_a_user_sees(before, ["casa"], ["2026-09", "2026-10"])
    server = start(db, "--retencao-meses", "1")
    assert server.stop() == 0
    with ReadingStore.open(readings_dir(db)) as store:
        left = store.count("casa")
    assert left < 20_000 // 2  # three 5-minute readings became one per quarter hour, before the cut
    with running(db) as after:
        again = what_a_user_sees(after, ["casa"], ["2026-09", "2026-10"])
    assert len(again["casa"].pop("leituras")) == left
    seen["casa"].pop("leituras")
    assert differences(again, seen) == []
    assert again["casa"]["faturas"]["2026-09"]["total"]
