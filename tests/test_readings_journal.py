"""The journal: torn tails, group commit, rotation, and what recovery refuses."""
from __future__ import annotations

import errno
import os
import threading

import pytest

from shared.models import Reading
from servidor.store.errors import StoreError
from servidor.store.readings import ReadingStore, StoreCorrupt, StoreDamaged, StoreLocked
from servidor.store.readings import journal as journal_module
from servidor.store.readings.block import Columns
from servidor.store.readings.codec import HEADER_SIZE, JOURNAL_MAGIC, JOURNAL_VERSION, encode_batch
from servidor.store.readings.files import journal_path
from servidor.store.readings.journal import JournalWriter, create_journal, replay_journal

T0 = 1_700_000_000_000


def record(seq: int) -> bytes:
    return encode_batch(b"m", Columns.from_readings([Reading(seq, T0 + seq * 10_000, float(seq))]))


def test_truncating_the_active_journal_at_every_byte_of_its_last_record_is_a_torn_tail(tmp_path):
    records = [record(seq) for seq in range(1, 6)]
    full = journal_path(tmp_path, 1)
    create_journal(tmp_path, 1, durable=False)
    with open(full, "ab") as f:
        f.write(b"".join(records))
    data = full.read_bytes()
    last_start = len(data) - len(records[-1])
    for cut in range(last_start + 1, len(data)):
        full.write_bytes(data[:cut])
        blocks = {}
        scan = replay_journal(full, blocks, print, tail_may_be_torn=True)
        assert list(blocks["m"].columns().seq) == [1, 2, 3, 4]
        assert (scan.end, scan.torn, scan.damages) == (last_start, cut - last_start, ())


def test_store_reopens_after_every_torn_tail_with_all_acknowledged_readings(tmp_path):
    with ReadingStore.open(tmp_path, durable=False) as store:
        for seq in range(1, 4):
            store.append("m", [Reading(seq, T0 + seq, float(seq))])
    path = journal_path(tmp_path, 1)
    data = path.read_bytes()
    last_start = len(data) - len(record(3))
    for cut in range(last_start, len(data)):
        path.write_bytes(data[:cut])
        with ReadingStore.open(tmp_path, durable=False) as store:
            assert [r.seq for r in store.after_seq("m", 0)] == [1, 2]
            store.append("m", [Reading(3, T0 + 3, 3.0)])  # the next append lands after the cut
        path.write_bytes(data)


def test_sixteen_threads_share_fsyncs_and_every_append_is_counted(tmp_path, monkeypatch):
    syncs = []
    real = journal_module._datasync

    def counting(fd):
        syncs.append(fd)
        real(fd)

    monkeypatch.setattr(journal_module, "_datasync", counting)
    threads, per_thread = 16, 40
    with ReadingStore.open(tmp_path) as store:
        barrier = threading.Barrier(threads)
        results = []

        def writer(k: int) -> None:
            barrier.wait()
            for i in range(per_thread):
                seq = k * per_thread + i
                results.append(store.append("shared", [Reading(seq, T0 + seq, float(seq))]).aceitas)
                store.append(f"m{k}", [Reading(i, T0 + i, float(i))])

        pool = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        assert sum(results) == threads * per_thread
        assert store.count("shared") == threads * per_thread
        assert all(store.count(f"m{k}") == per_thread for k in range(threads))
        appends = 2 * threads * per_thread
        assert len(syncs) < appends  # group commit: writers shared fsyncs
    with ReadingStore.open(tmp_path) as store:
        assert store.count("shared") == threads * per_thread
        assert sorted(r.seq for r in store.after_seq("shared", -1, limit=10_000)) == list(range(threads * per_thread))


def test_writers_waiting_on_a_failed_fsync_all_answer_and_every_acknowledged_reading_survives(tmp_path, monkeypatch):
    # Writers that wait for another's fsync sleep until it ends: when it fails, each must wake
    # to repair or refuse, none may hang, and whatever was acknowledged must be on disk.
    real = journal_module._datasync
    calls = {"n": 0}
    lock = threading.Lock()

    def flaky(fd):
        with lock:
            calls["n"] += 1
            fail = calls["n"] % 10 in (3, 4)  # an fsync and the repair after it
        if fail:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real(fd)

    monkeypatch.setattr(journal_module, "_datasync", flaky)
    threads, per_thread = 12, 30
    acknowledged: list[int] = []
    refused: list[int] = []
    with ReadingStore.open(tmp_path) as store:
        barrier = threading.Barrier(threads)

        def writer(k: int) -> None:
            barrier.wait()
            for i in range(per_thread):
                seq = k * per_thread + i
                try:
                    store.append("m", [Reading(seq, T0 + seq, float(seq))])
                    acknowledged.append(seq)
                except StoreError:
                    refused.append(seq)

        pool = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in pool)
        assert len(acknowledged) + len(refused) == threads * per_thread and refused
        monkeypatch.setattr(journal_module, "_datasync", real)
    with ReadingStore.open(tmp_path) as store:
        stored = {r.seq for r in store.after_seq("m", -1, limit=10_000)}
        assert set(acknowledged) <= stored


@pytest.mark.parametrize("first_fails", [False, True])
def test_a_writer_whose_record_missed_the_fsync_in_flight_gets_its_own(tmp_path, monkeypatch, first_fails):
    # A writes and starts an fsync; B writes after A took its offset, so A's fsync does not
    # cover B's record. When A's fsync ends (well or not), B must be woken to sync its own.
    create_journal(tmp_path, 1, True)
    writer = JournalWriter(tmp_path, 1, durable=True, max_bytes=1 << 20, on_rotate=lambda: None)
    real = journal_module._datasync
    in_fsync, release = threading.Event(), threading.Event()

    def gated(fd):
        if threading.current_thread().name == "a" and not release.is_set():
            in_fsync.set()
            assert release.wait(30)
            if first_fails:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
        real(fd)

    asleep = threading.Event()

    class Sleeper:
        """The lock a waiting writer sleeps on: says when its owner is about to sleep."""

        def __init__(self) -> None:
            self._lock = threading.Lock()
            self._held = False

        def acquire(self) -> bool:
            if self._held:
                asleep.set()
            self._held = True
            return self._lock.acquire()

        def release(self) -> None:
            self._lock.release()

    monkeypatch.setattr(journal_module, "_datasync", gated)
    monkeypatch.setattr(journal_module, "_new_lock", Sleeper)
    outcomes: dict[str, object] = {}

    def append(name: str, seq: int) -> None:
        try:
            writer.wait_durable(writer.write(record(seq)))
            outcomes[name] = "durável"
        except StoreError as exc:
            outcomes[name] = exc

    a = threading.Thread(target=append, args=("a", 1), name="a")
    a.start()
    assert in_fsync.wait(30)
    b = threading.Thread(target=append, args=("b", 2), name="b")
    b.start()
    assert asleep.wait(30)  # B waits behind A's fsync
    release.set()
    for t in (a, b):
        t.join(timeout=30)
    assert not a.is_alive() and not b.is_alive()
    assert outcomes == {"a": "durável", "b": "durável"}  # a failed fsync is repaired, then acknowledged
    writer.close()
    blocks = {}
    assert not replay_journal(journal_path(tmp_path, 1), blocks, print).damages
    assert list(blocks["m"].columns().seq) == [1, 2]


def test_writer_rotates_to_a_new_file_past_its_size_and_calls_back(tmp_path):
    create_journal(tmp_path, 1, durable=False)
    rotations = []
    writer = JournalWriter(tmp_path, 1, durable=True, max_bytes=200, on_rotate=lambda: rotations.append(1))
    ends = [writer.write(record(seq)) for seq in range(10)]
    writer.wait_durable(ends[-1])
    writer.close()
    assert writer.number > 1 and len(rotations) == writer.number - 1
    blocks = {}
    for number in range(1, writer.number + 1):
        assert not replay_journal(journal_path(tmp_path, number), blocks, print).damages
    assert list(blocks["m"].columns().seq) == list(range(10))


def test_journal_with_a_foreign_magic_is_refused_as_damage(tmp_path):
    (tmp_path / "journal-0000000001.log").write_bytes(b"NOPE" + bytes(4) + record(1))
    with pytest.raises(StoreDamaged, match="assinatura") as refused:
        ReadingStore.open(tmp_path)
    assert [(d.file, d.offset) for d in refused.value.damages] == [("journal-0000000001.log", 0)]


def test_journal_of_a_newer_format_is_refused_saying_so(tmp_path):
    newer = JOURNAL_MAGIC + (JOURNAL_VERSION + 1).to_bytes(2, "little") + bytes(2)
    assert len(newer) == HEADER_SIZE
    (tmp_path / "journal-0000000001.log").write_bytes(newer)
    with pytest.raises(StoreCorrupt, match="mais nova"):
        ReadingStore.open(tmp_path)


def test_second_open_of_the_same_directory_is_refused_until_closed(tmp_path):
    store = ReadingStore.open(tmp_path, durable=False)
    with pytest.raises(StoreLocked):
        ReadingStore.open(tmp_path, durable=False)
    store.close()
    ReadingStore.open(tmp_path, durable=False).close()


def test_leftover_temp_file_of_an_interrupted_write_is_removed_at_open(tmp_path):
    ReadingStore.open(tmp_path, durable=False).close()
    (tmp_path / "segment-0000000009.seg.tmp").write_bytes(b"half a segment")
    ReadingStore.open(tmp_path, durable=False).close()
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))
