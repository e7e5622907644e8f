"""Deleted streams (issue 8, finding 7; contract 3): a deleted key is dead forever. Appends to
it are refused and store nothing, reads return nothing, across restarts and compaction, and
its readings are reclaimed on disk."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shared.models import Reading
from servidor.store.readings import BUCKET_MS, ReadingStore, StreamDeleted
from servidor.store.readings.block import Columns
from servidor.store.readings.codec import encode_batch, encode_tombstone
from servidor.store.readings.files import journal_path, scan, segment_path
from servidor.store.readings.journal import create_journal
from servidor.store.readings.segment_codec import SegmentMeter, encode_segment_v1, scan_segment

T0 = 1_700_000_000_000 - 1_700_000_000_000 % BUCKET_MS


def batch(first: int, n: int) -> list[Reading]:
    return [Reading(s, T0 + s * 10_000, s * 2.0, 600.0) for s in range(first, first + n)]


def nothing_of(store: ReadingStore, key: str) -> bool:
    return (store.count(key) == 0 and store.last(key) is None and store.after_seq(key, -1) == []
            and store.readings(key) == [] and store.max_seq(key) is None and store.first_ts(key) is None
            and store.energy(key, T0, T0 + 86_400_000) == (0.0, 0) and key not in store.meters())


def keys_on_disk(directory: Path) -> set[str]:
    """Every key whose readings any journal or segment still holds."""
    journals, segments = scan(directory)
    keys: set[str] = set()
    for path in segments.values():
        keys |= {m.meter_id for m in scan_segment(path.read_bytes()).meters if len(m.columns)}
    for path in journals.values():
        data = path.read_bytes()
        keys |= {k for k in ("m", "x", "m~1") if k.encode() in data}
    return keys


@pytest.mark.parametrize("compact_before", [False, True], ids=["no-diario", "em-segmento"])
def test_a_deleted_key_stays_dead_through_restart_and_compaction(tmp_path, compact_before):
    store = ReadingStore.open(tmp_path, durable=False)
    store.append("m", batch(1, 20))
    store.append("x", batch(1, 3))
    if compact_before:
        store.compact()
    store.delete_meter("m")
    assert nothing_of(store, "m") and store.count("x") == 3
    with pytest.raises(StreamDeleted) as refused:
        store.append("m", batch(21, 2))
    assert refused.value.key == "m" and "apagado" in refused.value.reason
    assert store.stats()["leituras"] == 3
    for step in ("restart", "compact", "restart"):
        if step == "compact":
            store.compact()
        else:
            store.close()
            store = ReadingStore.open(tmp_path, durable=False)
        assert nothing_of(store, "m") and store.count("x") == 3 and store.is_deleted("m")
        with pytest.raises(StreamDeleted):
            store.append("m", batch(30, 1))
    store.append("m~1", batch(1, 2))  # the next incarnation of the meter starts empty
    assert [r.seq for r in store.after_seq("m~1", 0)] == [1, 2]
    store.close()


def test_a_key_deleted_before_it_ever_stored_is_dead_too(tmp_path):
    with ReadingStore.open(tmp_path, durable=False) as store:
        store.delete_meter("nunca")
    with ReadingStore.open(tmp_path, durable=False) as store:
        with pytest.raises(StreamDeleted):
            store.append("nunca", batch(1, 1))


def test_an_agent_posting_while_its_meter_is_deleted_leaves_nothing_behind(tmp_path):
    store = ReadingStore.open(tmp_path, durable=False, journal_max_bytes=8192)
    store.append("outro", batch(1, 5))
    started = threading.Event()
    refused: list[int] = []
    stored: list[int] = []

    def agent() -> None:
        seq = 1
        while True:
            try:
                store.append("m", batch(seq, 3))
            except StreamDeleted:
                refused.append(seq)
                if len(refused) == 50:  # it keeps posting for a while, as a real agent would
                    return
            else:
                stored.append(seq)
            seq += 3
            if len(stored) == 20:
                started.set()

    thread = threading.Thread(target=agent)
    thread.start()
    assert started.wait(10)
    store.delete_meter("m")
    thread.join(10)
    assert not thread.is_alive() and len(refused) == 50 and stored
    assert nothing_of(store, "m")
    store.compact()
    assert nothing_of(store, "m") and "m" not in keys_on_disk(tmp_path)
    store.close()
    with ReadingStore.open(tmp_path, durable=False) as again:
        assert nothing_of(again, "m") and again.count("outro") == 5


def test_deletion_reclaims_the_space_of_its_readings_in_older_segments(tmp_path):
    store = ReadingStore.open(tmp_path, durable=False)
    store.append("m", batch(1, 20_000))
    store.append("x", batch(1, 100))
    store.compact()
    store.append("m", batch(20_001, 500))
    store.compact()
    before = store.stats()["bytes_disco"]
    store.delete_meter("m")
    store.compact()
    after = store.stats()["bytes_disco"]
    assert keys_on_disk(tmp_path) == {"x"}
    assert after < before / 4
    store.close()
    with ReadingStore.open(tmp_path, durable=False) as again:
        assert nothing_of(again, "m") and again.count("x") == 100


def test_the_background_thread_reclaims_after_a_deletion(tmp_path):
    store = ReadingStore.open(tmp_path, durable=False)
    store.append("m", batch(1, 1000))
    store.compact()
    store.delete_meter("m")
    for _ in range(500):
        if not scan(tmp_path)[1]:
            break
        threading.Event().wait(0.01)
    assert not scan(tmp_path)[1]  # the segment held only "m": removed, not just hidden
    store.close()


def test_old_tombstones_keep_their_meaning_readings_after_them_survive(tmp_path):
    # Written by the previous version: a deletion was a journal record that voided the readings
    # before it, and the id could store again. Those later readings must not vanish now.
    create_journal(tmp_path, 1, durable=False)
    old = [Reading(s, T0 + s, float(s)) for s in (1, 2, 3)]
    with open(journal_path(tmp_path, 1), "ab") as f:
        f.write(encode_batch(b"m", Columns.from_readings(old[:2])) + encode_tombstone(b"m")
                + encode_batch(b"m", Columns.from_readings(old[2:])))
    segment_path(tmp_path, 0).write_bytes(encode_segment_v1([SegmentMeter("m", False, Columns.from_readings(
        [Reading(9, T0 - 9, 0.5)]))]))
    with ReadingStore.open(tmp_path, durable=False) as store:
        assert [r.seq for r in store.after_seq("m", 0)] == [3]
        store.compact()
    with ReadingStore.open(tmp_path, durable=False) as store:
        assert [r.seq for r in store.after_seq("m", 0)] == [3]
        store.delete_meter("m")
        store.compact()
        assert not scan(tmp_path)[1]  # the old one-block segment went with it
