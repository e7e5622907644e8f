"""ReadingStore: the interface the API consumes, across compaction and restart."""
from __future__ import annotations

import shutil
import tempfile
import threading
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from shared.models import Reading
from servidor.store.readings import BUCKET_MS, AppendResult, InvalidMeterId, ReadingStore, ReadingStoreError
from servidor.store.readings.files import journal_path, scan
from servidor.store.readings.flows import MONOTONIC, is_reset

T0 = 1_700_000_000_000 - 1_700_000_000_000 % BUCKET_MS
DAY = 86_400_000


def series(first: int, last: int, step_ms: int = 10_000, wh: float = 2.0) -> list[Reading]:
    return [Reading(s, T0 + s * step_ms, 100.0 + s * wh, 720.0) for s in range(first, last + 1)]


@pytest.fixture
def store(tmp_path):
    s = ReadingStore.open(tmp_path / "leituras", durable=False)
    yield s
    s.close()


def reopen(store: ReadingStore) -> ReadingStore:
    directory = store._directory
    store.close()
    return ReadingStore.open(directory, durable=False)


def snapshot(store: ReadingStore, meter: str) -> tuple:
    """Everything the API can see of a meter: (exact part, rollup totals as a flat list)."""
    days = store.day_energy(meter, date(2023, 1, 1), date(2024, 1, 1))
    exact = (store.readings(meter, limit=100_000), store.after_seq(meter, -1, 100_000), store.count(meter),
             store.max_seq(meter), store.first_ts(meter), store.last(meter), store.previous(meter), list(days))
    totals = [*store.energy(meter, T0 - DAY, T0 + 30 * DAY), *(x for value in days.values() for x in value)]
    return exact, totals


def same_view(a: tuple, b: tuple) -> bool:
    # Rollups updated in place (a pair removed, two added) and rebuilt from scratch after a
    # restart may differ in the last bits of a float.
    return a[0] == b[0] and a[1] == pytest.approx(b[1], rel=1e-9, abs=1e-9)


def test_append_reports_accepted_duplicates_and_last_seq(store):
    assert store.append("m", series(1, 5)) == AppendResult(5, 0, 5, ())
    again = series(4, 8) + series(8, 8)  # 4, 5 stored; 8 twice in the batch
    assert store.append("m", again) == AppendResult(3, 3, 8, ())
    assert store.count("m") == 8
    assert store.append("m", []) == AppendResult(0, 0, 8, ())
    assert store.append("other", []) == AppendResult(0, 0, None, ())


def test_counter_reset_is_reported_and_flagged_and_never_negative(store):
    readings = [Reading(1, T0, 500.0), Reading(2, T0 + 60_000, 510.0), Reading(3, T0 + 120_000, 3.0),
                Reading(4, T0 + 180_000, 7.0)]
    result = store.append("m", readings)
    assert result.resets == (readings[2],)
    assert [reset for _, reset in store.readings("m")] == [False, False, True, False]
    assert store.energy("m", T0, T0 + BUCKET_MS) == (pytest.approx(14.0), 180_000)


def test_late_and_out_of_order_readings_are_placed_by_time_and_fix_totals(store):
    store.append("m", [Reading(10, T0, 0.0), Reading(30, T0 + 2 * BUCKET_MS, 30.0)])
    result = store.append("m", [Reading(20, T0 + BUCKET_MS, 25.0), Reading(5, T0 - BUCKET_MS, 0.0)])
    assert result.aceitas == 2 and result.ultimo_seq == 30
    assert [r.seq for r, _ in store.readings("m")] == [5, 10, 20, 30]
    assert [r.seq for r in store.after_seq("m", 5)] == [10, 20, 30]
    assert store.energy("m", T0, T0 + BUCKET_MS)[0] == pytest.approx(25.0)
    assert store.energy("m", T0 + BUCKET_MS, T0 + 2 * BUCKET_MS)[0] == pytest.approx(5.0)
    assert store.last("m").seq == 30 and store.previous("m").seq == 20 and store.first_ts("m") == T0 - BUCKET_MS


def test_after_seq_follows_seq_order_even_when_time_order_differs(store):
    store.append("m", [Reading(3, T0, 1.0), Reading(1, T0 + 1000, 2.0), Reading(2, T0 + 2000, 3.0)])
    assert [r.seq for r in store.after_seq("m", 0)] == [1, 2, 3]
    assert [r.seq for r in store.after_seq("m", 1, limit=1)] == [2]
    assert [r.seq for r, _ in store.readings("m")] == [3, 1, 2]


def test_readings_window_is_start_inclusive_end_exclusive_and_limited(store):
    store.append("m", series(1, 10))
    rows = store.readings("m", T0 + 3 * 10_000, T0 + 7 * 10_000, limit=3)
    assert [r.seq for r, _ in rows] == [3, 4, 5]
    assert store.readings("m", T0 + 7 * 10_000, T0 + 7 * 10_000) == []


def test_measurements_power_and_estimated_flag_survive_restart_and_compaction(store):
    reading = Reading(1, T0, 12.5, None, (("IPF", (1.0, 2.0, 3.0)), ("TPF", 230.5)), True)
    store.append("m", [reading, Reading(2, T0 + 10_000, 13.0, -50.0)])
    store.compact()
    store = reopen(store)
    try:
        assert store.after_seq("m", 0) == [reading, Reading(2, T0 + 10_000, 13.0, -50.0)]
    finally:
        store.close()


def test_compaction_then_restart_gives_identical_readings_and_rollups(tmp_path):
    store = ReadingStore.open(tmp_path, durable=False, journal_max_bytes=4096)
    store.set_timezone("a", ZoneInfo("Asia/Kolkata"))
    store.append("a", series(1, 400))
    store.append("a", [Reading(1000, T0 + 5 * 10_000 + 1, 109.0), Reading(1001, T0 + 600 * 10_000, 50.0)])
    store.append("b", series(1, 50, step_ms=90_000))
    before = {m: snapshot(store, m) for m in ("a", "b")}
    store.compact()
    assert store.stats()["segmentos"] >= 2 and store.stats()["bytes_diario"] < 100
    assert all(same_view(snapshot(store, m), before[m]) for m in ("a", "b"))
    store.close()
    store = ReadingStore.open(tmp_path, durable=False)
    store.set_timezone("a", ZoneInfo("Asia/Kolkata"))
    try:
        assert all(same_view(snapshot(store, m), before[m]) for m in ("a", "b"))
    finally:
        store.close()


def test_segment_and_its_journal_both_present_after_a_crash_count_once(tmp_path):
    with ReadingStore.open(tmp_path, durable=False) as store:
        store.append("m", series(1, 100))
    saved = journal_path(tmp_path, 1).read_bytes()
    with ReadingStore.open(tmp_path, durable=False) as store:
        store.compact()
    journal_path(tmp_path, 1).write_bytes(saved)  # as if killed before the journal was deleted
    with ReadingStore.open(tmp_path, durable=False) as store:
        assert store.count("m") == 100
        assert store.energy("m", T0, T0 + DAY)[0] == pytest.approx(99 * 2.0)
    assert 1 not in scan(tmp_path)[0]


def test_time_zone_set_before_the_first_reading_applies_to_its_days(store):
    tz = ZoneInfo("America/Sao_Paulo")
    store.set_timezone("m", tz)
    start = int(datetime(2024, 5, 1, tzinfo=tz).timestamp() * 1000)
    store.append("m", [Reading(i, start + i * 600_000, float(i)) for i in range(0, 145)])
    assert store.day_energy("m", date(2024, 5, 1), date(2024, 5, 2)) == {date(2024, 5, 1): (pytest.approx(144.0), DAY)}
    store.set_timezone("m", ZoneInfo("UTC"))
    days = store.day_energy("m", date(2024, 5, 1), date(2024, 5, 2))
    assert sum(wh for wh, _ in days.values()) == pytest.approx(144.0) and len(days) == 2


def test_listener_hears_stored_appends_and_its_failure_does_not_fail_append(store):
    heard = []
    store.add_listener(lambda meter, seq: heard.append((meter, seq)))
    store.add_listener(lambda meter, seq: 1 / 0)
    assert store.append("m", series(1, 3)).aceitas == 3
    store.append("m", series(1, 3))  # all duplicates: nothing new to hear
    assert heard == [("m", 3)]


def test_energy_outside_bucket_edges_is_refused(store):
    with pytest.raises(ValueError):
        store.energy("m", T0 + 1, T0 + BUCKET_MS)


def test_meter_id_must_fit_the_record(store):
    with pytest.raises(InvalidMeterId):
        store.append("", series(1, 1))
    with pytest.raises(InvalidMeterId):
        store.append("x" * 2000, series(1, 1))


def test_close_joins_the_compaction_thread_and_is_idempotent(tmp_path):
    store = ReadingStore.open(tmp_path, durable=False)
    assert any(t.name == "leituras-compactacao" for t in threading.enumerate())
    store.close()
    store.close()
    assert not any(t.name == "leituras-compactacao" for t in threading.enumerate())
    with pytest.raises(ReadingStoreError):
        store.append("m", series(1, 1))


def test_background_thread_compacts_rotated_journals(tmp_path):
    with ReadingStore.open(tmp_path, durable=False, journal_max_bytes=2048) as store:
        for k in range(20):
            store.append("m", series(k * 10 + 1, k * 10 + 10))
        for _ in range(200):
            if store.stats()["segmentos"] > 0 and len(scan(tmp_path)[0]) == 1:
                break
            threading.Event().wait(0.01)
        stats = store.stats()
        assert stats["segmentos"] > 0 and stats["leituras"] == 200 and stats["medidores"] == 1


def test_damaged_segment_stops_open_naming_the_file(tmp_path):
    with ReadingStore.open(tmp_path, durable=False) as store:
        store.append("m", series(1, 10))
        store.compact()
    segment = next(tmp_path.glob("segment-*.seg"))
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF
    segment.write_bytes(bytes(data))
    copy = tmp_path.parent / "copy"
    shutil.copytree(tmp_path, copy)
    with pytest.raises(ReadingStoreError, match="segment-"):
        ReadingStore.open(copy, durable=False)


def test_resets_of_an_unordered_batch_are_the_readings_below_their_predecessor(store):
    late, drop = Reading(2, T0 + 20_000, 50.0), Reading(4, T0 + 40_000, 10.0)
    # The reading after the drop goes on from its new base: a reset, not a momentary zero.
    result = store.append("m", [Reading(3, T0 + 30_000, 60.0), drop, Reading(1, T0 + 10_000, 40.0), late,
                                Reading(5, T0 + 50_000, 12.0)])
    assert result.resets == (drop,)


def test_backfilled_gap_is_inserted_in_time_order_with_correct_totals(store):
    store.append("m", series(1, 10) + series(500, 510))
    store.append("m", series(11, 499))
    assert [r.seq for r, _ in store.readings("m", limit=10_000)] == list(range(1, 511))
    assert store.energy("m", T0, T0 + DAY) == (pytest.approx(509 * 2.0), 509 * 10_000)


batches = st.lists(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 30), st.floats(0, 1e4)), max_size=12),
                   min_size=1, max_size=6)


@given(batches, st.booleans())
@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_any_batches_store_the_first_copy_of_each_seq_and_survive_restart(raw_batches, compact):
    with tempfile.TemporaryDirectory() as directory:
        with ReadingStore.open(Path(directory), durable=False, journal_max_bytes=2048) as store:
            kept: dict[int, Reading] = {}
            for raw in raw_batches:
                batch = [Reading(seq, T0 + minute * 60_000, wh) for seq, minute, wh in raw]
                fresh: dict[int, Reading] = {}
                for reading in batch:
                    if reading.seq not in kept and reading.seq not in fresh:
                        fresh[reading.seq] = reading
                result = store.append("m", batch)
                assert (result.aceitas, result.duplicadas) == (len(fresh), len(batch) - len(fresh))
                kept.update(fresh)
            by_time = sorted(kept.values(), key=lambda r: (r.ts_ms, r.seq))
            assert [r for r, _ in store.readings("m")] == by_time
            # A reset is a drop that the next reading does not undo (flows.is_reset).
            ts, energia = [r.ts_ms for r in by_time], [r.energia_wh for r in by_time]
            assert [reset for _, reset in store.readings("m")] == [
                is_reset(MONOTONIC, ts, energia, i) for i in range(len(by_time))]
            assert store.after_seq("m", -1) == sorted(kept.values(), key=lambda r: r.seq)
            if kept:
                assert store.last("m") == by_time[-1] and store.max_seq("m") == max(kept)
            before = snapshot(store, "m")
            if compact:
                store.compact()
        with ReadingStore.open(Path(directory), durable=False) as store:
            assert same_view(snapshot(store, "m"), before)
