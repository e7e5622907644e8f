"""A full disk and exhausted descriptors (issue 8, finding 6): typed errors, nothing half
written, `health()` degraded while it lasts, and the stores working again without a restart."""
from __future__ import annotations

import errno
import os
import resource
from contextlib import contextmanager
from typing import Iterator

import pytest

from shared.models import Reading
from servidor.store import StorageFull, StorageUnavailable, StoreError
from servidor.store import health as health_module
from servidor.store.documents import DocumentStore
from servidor.store.readings import BUCKET_MS, ReadingStore
from servidor.store.readings import journal as journal_module
from servidor.store.readings.files import journal_path
from tests.small_disk import SmallDisk, small_disk

T0 = 1_700_000_000_000 - 1_700_000_000_000 % BUCKET_MS


@pytest.fixture(name="small_disk")
def small_disk_fixture(tmp_path, monkeypatch) -> Iterator[SmallDisk]:
    with small_disk(tmp_path, monkeypatch) as disk:
        yield disk


@pytest.fixture(autouse=True)
def probe_every_time(monkeypatch):
    # health() probes at most once a second; a test must not sleep to see the disk come back.
    monkeypatch.setattr(health_module, "PROBE_INTERVAL_S", 0.0)


def batch(first: int, n: int) -> list[Reading]:
    return [Reading(s, T0 + s * 10_000, float(s), 500.0, (("PAT", (1.0, 2.0, 3.0)),)) for s in range(first, first + n)]


def seqs(store: ReadingStore, key: str) -> list[int]:
    return [r.seq for r in store.after_seq(key, -1, limit=10**6)]


def test_journal_on_a_full_disk_refuses_the_batch_whole_and_takes_it_once_space_returns(small_disk):
    store = ReadingStore.open(small_disk.path / "leituras")
    store.append("m", batch(1, 10))
    small_disk.fill()
    next_seq, failure = 11, None
    for _ in range(200):  # the current page's slack takes a few batches before the kernel says no
        size_before = journal_path(small_disk.path / "leituras", 1).stat().st_size
        try:
            store.append("m", batch(next_seq, 50))
        except StorageFull as exc:
            failure = exc
            break
        next_seq += 50
    assert failure is not None and failure.reason.startswith("disco cheio")
    assert "/" not in failure.reason  # no path for /saude to leak
    assert seqs(store, "m") == list(range(1, next_seq))  # the refused batch is not readable
    assert journal_path(small_disk.path / "leituras", 1).stat().st_size == size_before  # nor half in the file
    assert store.health() == (False, failure.reason)

    small_disk.free()
    assert store.health() == (True, None)
    assert store.append("m", batch(next_seq, 50)).aceitas == 50
    store.close()
    with ReadingStore.open(small_disk.path / "leituras") as again:
        assert seqs(again, "m") == list(range(1, next_seq + 50))


def test_compaction_and_deletion_on_a_full_disk_change_nothing_until_space_returns(small_disk):
    directory = small_disk.path / "leituras"
    store = ReadingStore.open(directory)
    store.append("m", batch(1, 3000))
    store.append("x", batch(1, 10))
    small_disk.fill()
    with pytest.raises(StorageFull):
        store.compact()
    with pytest.raises(StorageFull):
        store.delete_meter("x")
    assert seqs(store, "x") == list(range(1, 11)) and not store.is_deleted("x")
    assert not [n for n in os.listdir(directory) if n.endswith(".tmp")]
    assert store.health()[0] is False

    small_disk.free()
    store.compact()
    store.delete_meter("x")
    store.compact()
    assert store.health() == (True, None)
    assert seqs(store, "m") == list(range(1, 3001)) and seqs(store, "x") == []
    store.close()
    with ReadingStore.open(directory) as again:
        assert seqs(again, "m") == list(range(1, 3001)) and seqs(again, "x") == []


def test_documents_on_a_full_disk_keep_the_old_file_and_memory_then_write_again(small_disk):
    path = small_disk.path / "db.json"
    docs = DocumentStore.open(path)
    docs.upsert("medidores", "id", {"id": "a", "nome": "x" * 5000})
    before = path.read_bytes()
    small_disk.fill()

    def create(db):
        db.table("medidores").insert({"id": "b", "nome": "y" * 20_000})
        db.table("chaves").insert({"medidor": "b", "hash": "h"})

    with pytest.raises(StorageFull) as refused:
        docs.transaction(create)
    assert path.read_bytes() == before
    assert [d["id"] for d in docs.all("medidores")] == ["a"] and docs.all("chaves") == []
    assert docs.health() == (False, refused.value.reason)
    assert not [n for n in os.listdir(small_disk.path) if n.endswith(".tmp")]

    small_disk.free()
    assert docs.health() == (True, None)
    docs.transaction(create)
    docs.close()
    reopened = DocumentStore.open(path)
    assert [d["id"] for d in reopened.all("medidores")] == ["a", "b"] and len(reopened.all("chaves")) == 1


def test_a_failed_fsync_is_repaired_before_anything_more_is_acknowledged(tmp_path, monkeypatch):
    # Injected: tmpfs never fails an fsync and ext4 reports a full disk at write(), so no file
    # system here can make fdatasync fail; the store must still survive one (NFS, thin disks).
    store = ReadingStore.open(tmp_path)
    store.append("m", batch(1, 5))
    real = journal_module._datasync
    failing = {"left": 3}  # the fsync, its repair, and the repair tried by the health probe

    def datasync(fd):
        if failing["left"]:
            failing["left"] -= 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(journal_module, "_datasync", datasync)
    with pytest.raises(StorageFull):  # its fsync failed, and so did the repair's
        store.append("m", batch(6, 5))
    assert store.health()[0] is False
    # The agent, never acknowledged, sends the batch again: "already stored" is answered only
    # once the repair made it durable.
    assert store.append("m", batch(6, 5)).duplicadas == 5
    assert store.append("m", batch(11, 5)).aceitas == 5
    assert store.health() == (True, None)
    store.close()
    with ReadingStore.open(tmp_path) as again:
        assert seqs(again, "m") == list(range(1, 16))


@contextmanager
def descriptors_exhausted() -> Iterator[None]:
    """Every descriptor the process may open, taken; given back on exit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 16, hard))
    taken = []
    try:
        while True:
            try:
                taken.append(os.open(os.devnull, os.O_RDONLY))
            except OSError as exc:
                assert exc.errno == errno.EMFILE
                break
        yield
    finally:
        for fd in taken:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_exhausted_descriptors_give_storage_unavailable_and_everything_works_after(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_module, "ROTATE_RETRY_S", 0.0)
    docs = DocumentStore.open(tmp_path / "db.json")
    store = ReadingStore.open(tmp_path / "leituras", journal_max_bytes=4096)
    store.append("m", batch(1, 5))
    with descriptors_exhausted():
        with pytest.raises(StorageUnavailable, match="arquivos abertos"):
            docs.upsert("medidores", "id", {"id": "a"})
        with pytest.raises(StorageUnavailable):
            store.delete_meter("m")
        with pytest.raises(StorageUnavailable):
            ReadingStore.open(tmp_path / "outras")
        # Appending needs no new descriptor: it goes on, and the rotation it is due waits.
        assert store.append("m", batch(6, 200)).aceitas == 200
        assert store.stats()["leituras"] == 205  # /saude and the metrics still answer
        assert store.health() == (False, "limite de arquivos abertos atingido: não foi possível gravar um novo diário")
        assert docs.health()[0] is False
    assert docs.health() == (True, None) and store.health() == (True, None)
    docs.upsert("medidores", "id", {"id": "a"})
    store.append("m", batch(206, 5))
    assert store.stats()["leituras"] == 210 and docs.all("medidores") == [{"id": "a"}]
    store.close()
    docs.close()


def test_every_storage_failure_shares_one_root():
    assert issubclass(StorageFull, StoreError) and issubclass(StorageUnavailable, StoreError)
    from servidor.store.documents import DocumentStoreError
    from servidor.store.readings import ReadingStoreError, StreamDeleted
    assert all(issubclass(e, StoreError) for e in (DocumentStoreError, ReadingStoreError, StreamDeleted))
