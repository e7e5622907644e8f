"""ReadingStore: the durable readings store of the server (journal + segments + memory).

Every method is thread-safe. One lock guards the in-memory state and the order of journal
writes, so the journal replays to exactly the state memory holds; fsync happens outside it
(group commit), so a slow disk does not stall readers.

A reading becomes visible to readers when written, an fsync (milliseconds) before its writer
is answered. If the process dies in between, the reading vanishes with its unanswered
request, and the agent, never acknowledged, sends it again.

Readings are kept per stream key (the domain's choice: a meter's id, or id~generation). A
deleted key is dead forever (deleted.py): appends to it raise StreamDeleted and store
nothing, reads of it return nothing, and compaction reclaims its readings on disk.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timezone, tzinfo
from pathlib import Path
from typing import Callable, Sequence

from shared.models import Reading
from servidor.store.errors import StoreError, storage_error
from servidor.store.health import Health

from .block import Columns
from .codec import MAX_READINGS_PER_RECORD, encode_batch, encode_meter_id, encode_one
from .columns import MeterColumns
from .deleted import DeletedStreams
from .durable_waiter import DurableWaiter
from .errors import ReadingStoreError, StoreDamaged, StreamDeleted
from .flows import MONOTONIC, FlowPolicy
from .files import DirectoryLock, disk_usage, probe_write, remove
from .journal import JournalWriter, create_journal, cut_torn_tail
from .queries import ColumnQueries
from .recovery import recover
from .rollups import MeterRollup
from .segments import Compactor

log = logging.getLogger(__name__)

# 64 MiB of journal holds ~2 M readings appended in batches (33 bytes each) or ~1.4 M single
# appends (49 bytes with the record frame); replaying it at start-up took ~1.3 s and ~4.5 s on
# the development VM. Compaction then stores the same readings in 1-11 bytes each.
DEFAULT_JOURNAL_MAX_BYTES = 64 * 2**20
# Below this every record would start a file; tests use a few KiB to compact constantly.
MIN_JOURNAL_MAX_BYTES = 1024


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Outcome of one append. `ultimo_seq` is the meter's highest stored seq afterwards;
    `resets` are the counter resets the batch confirmed (flows.is_reset: a drop that the next
    reading does not undo; the stream's last reading may be one, confirmed by this batch)."""

    aceitas: int
    duplicadas: int
    ultimo_seq: int | None
    resets: tuple[Reading, ...] = ()


class ReadingStore(ColumnQueries):
    """Readings of every stream, durable on return from `append`. Open with `ReadingStore.open`."""

    def __init__(self, directory: Path, lock: DirectoryLock, deleted: DeletedStreams, *, durable: bool,
                 journal_max_bytes: int) -> None:
        self._directory = directory
        self._dir_lock = lock
        self._deleted = deleted
        self._durable = durable
        self._journal_max_bytes = journal_max_bytes
        self._lock = threading.Lock()
        self._meters: dict[str, MeterColumns] = {}
        self._zones: dict[str, tzinfo] = {}
        self._policies: dict[str, FlowPolicy] = {}
        self._arrived: dict[str, int] = {}
        self._listeners: list[Callable[[str, int], None]] = []
        self._count = 0
        self._closed = False
        self._journal: JournalWriter | None = None
        self._waiter = DurableWaiter(lambda end: self._journal.wait_durable(end))  # for append_later
        self._usage = (0, 0, 0)  # the last disk usage measured, served while it cannot be
        self._health = Health(self._probe)
        # Damage met by compaction at run time: no probe cures it, `servidor reparar` does.
        self._damage: StoreDamaged | None = None
        self._compactor = Compactor(directory, durable, lambda: self._journal.number, lambda: self._deleted.keys,
                                    self._on_compaction)

    @classmethod
    def open(cls, directory: Path, *, durable: bool = True,
             journal_max_bytes: int = DEFAULT_JOURNAL_MAX_BYTES) -> "ReadingStore":
        """Open (creating if needed) the store in `directory`: recover, start compacting.
        StoreDamaged (nothing changed on disk) for damage inside a journal, a segment or the
        deleted-streams file; StoreCorrupt for a format newer than this program's; StoreLocked
        if another process has it open; StorageFull / StorageUnavailable for lack of space or
        descriptors.

        `durable=False` skips every fsync (tests, benchmarks): data then survives the death of
        the process, which leaves it in the page cache, but not a power cut."""
        if journal_max_bytes < MIN_JOURNAL_MAX_BYTES:
            raise ValueError(f"journal_max_bytes deve ser ≥ {MIN_JOURNAL_MAX_BYTES}")
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            lock = DirectoryLock(directory, durable)
        except OSError as exc:
            raise storage_error(exc, "as leituras", "abrir") from exc
        try:
            store = cls._recovered(directory, lock, durable, journal_max_bytes)
        except OSError as exc:
            lock.release()
            raise storage_error(exc, "as leituras", "abrir") from exc
        except BaseException:
            lock.release()
            raise
        store._compactor.start()
        store._compactor.wake()  # journals closed by an earlier run may await compaction
        return store

    @classmethod
    def _recovered(cls, directory: Path, lock: DirectoryLock, durable: bool, journal_max_bytes: int) -> "ReadingStore":
        found = recover(directory, durable)
        if found.damages:
            raise StoreDamaged(found.damages)
        store = cls(directory, lock, found.deleted, durable=durable, journal_max_bytes=journal_max_bytes)
        if found.torn is not None:
            cut_torn_tail(*found.torn, durable)
        for stale in found.stale_journals:
            remove(stale, durable)
        number, is_journal = found.last
        if not is_journal:
            number += 1
            create_journal(directory, number, durable)
        for meter_id, block in found.blocks.items():
            meter = MeterColumns(MeterRollup())
            meter.load(block.columns())
            if len(meter):
                store._meters[meter_id] = meter
                store._count += len(meter)
        found.blocks.clear()
        store._compactor.index(found.segment_keys)
        store._journal = JournalWriter(directory, number, durable=durable, max_bytes=journal_max_bytes,
                                       on_rotate=store._compactor.wake, on_fault=store._health.failed)
        return store

    def _check_open(self) -> None:
        if self._closed:
            raise ReadingStoreError("armazenamento de leituras fechado")

    # -- writes -------------------------------------------------------------------------------

    def append(self, meter_id: str, readings: Sequence[Reading], *, arrived_ms: int | None = None) -> AppendResult:
        """Store the readings not yet stored (by seq); durable when this returns.
        StreamDeleted for a deleted key; StorageFull / StorageUnavailable if the disk cannot
        take them: then nothing of the batch was stored."""
        result, end = self._write(meter_id, readings, arrived_ms)
        try:
            self._journal.wait_durable(end)
        except StoreError as error:
            self._health.failed(error)
            raise
        return self._told(meter_id, result)

    def append_later(self, meter_id: str, readings: Sequence[Reading],
                     done: Callable[[AppendResult | StoreError], None], *, arrived_ms: int | None = None) -> None:
        """As `append`, without waiting: `done(result)` runs in the store's own thread once the
        readings are durable (with the StoreError instead if they cannot be). A refusal before
        anything is written (StreamDeleted, a full disk) is raised here."""
        result, end = self._write(meter_id, readings, arrived_ms)

        def durable(error: StoreError | None) -> None:
            if error is not None:
                self._health.failed(error)
                done(error)
            else:
                done(self._told(meter_id, result))

        self._waiter.after(end, durable)

    def deliver_later_through(self, deliver: Callable, kicks: Callable | None = None) -> None:
        """Where `append_later`'s callbacks run, and who starts each fsync (DurableWaiter)."""
        self._waiter.deliver_through(deliver, kicks)

    def _write(self, meter_id: str, readings: Sequence[Reading],
               arrived_ms: int | None) -> tuple[AppendResult, int]:
        """The locked half of an append: its result, and the journal offset that must be
        durable before anyone is told it."""
        raw_id = encode_meter_id(meter_id)
        accepted: Sequence[Reading] = ()
        duplicates = 0
        resets: list[Reading] = []
        try:
            with self._lock:
                self._check_open()
                if meter_id in self._deleted.keys:
                    raise StreamDeleted(meter_id)
                meter = self._meters.get(meter_id)
                if meter is None:
                    meter = MeterColumns(MeterRollup(self._zones.get(meter_id, timezone.utc)),
                                         self._policies.get(meter_id, MONOTONIC))
                if readings:
                    accepted, duplicates = meter.partition(readings)
                if accepted:
                    # Journal first, all records in one write: if it fails, memory has not moved
                    # and the file holds none of them.
                    one = accepted[0] if len(accepted) == 1 else None
                    if one is not None and meter.appends_plainly(one):  # a meter's next reading
                        self._journal.write(encode_one(raw_id, one))
                        meter.append_plain(one)
                    else:
                        resets = self._write_and_insert(raw_id, meter, accepted)
                    self._meters[meter_id] = meter
                    self._count += len(accepted)
                    if arrived_ms is not None:
                        self._arrived[meter_id] = arrived_ms
                # Also for an all-duplicate batch: its readings may be another writer's, written
                # but not yet fsynced, and "already stored" must be true when we answer.
                end = self._journal.written
                last_seq = meter.max_seq
        except StoreError as error:
            if not isinstance(error, ReadingStoreError):  # a full disk, not a refused key
                self._health.failed(error)
            raise
        return AppendResult(len(accepted), duplicates, last_seq, tuple(resets)), end

    def _told(self, meter_id: str, result: AppendResult) -> AppendResult:
        """The half after the fsync: health and listeners; then the result is true."""
        if result.aceitas:
            if self._health.fault is not None and self._journal.fault is None:
                self._health.succeeded()
            for listener in list(self._listeners):
                try:
                    listener(meter_id, result.ultimo_seq)
                except Exception:
                    log.exception("ouvinte de leituras falhou para %s", meter_id)
        return result

    def _write_and_insert(self, raw_id: bytes, meter: MeterColumns, accepted: Sequence[Reading]) -> list[Reading]:
        """Journal `accepted` (one record per MAX_READINGS_PER_RECORD), then insert them into
        `meter`; the resets they confirm. Under the store's lock."""
        if len(accepted) <= MAX_READINGS_PER_RECORD:  # always, from the API
            columns: Sequence[Columns] = (Columns.from_readings(accepted),)
            record = encode_batch(raw_id, columns[0])
        else:
            step = MAX_READINGS_PER_RECORD
            columns = [Columns.from_readings(accepted[i:i + step]) for i in range(0, len(accepted), step)]
            record = b"".join(encode_batch(raw_id, cols) for cols in columns)
        self._journal.write(record)
        resets: list[Reading] = []
        for cols in columns:
            resets += meter.insert(cols)
        return resets

    def delete_meter(self, meter_id: str) -> None:
        """Kill stream `meter_id` forever, durably: its readings are gone for every reader now,
        later appends to it raise StreamDeleted, and compaction reclaims its space.
        StorageFull / StorageUnavailable if that cannot be recorded: then nothing changed."""
        encode_meter_id(meter_id)
        with self._lock:
            self._check_open()
            try:
                self._deleted.add(meter_id)
            except StoreError as error:
                self._health.failed(error)
                raise
            self._zones.pop(meter_id, None)
            self._policies.pop(meter_id, None)
            self._arrived.pop(meter_id, None)
            meter = self._meters.pop(meter_id, None)
            if meter is not None:
                self._count -= len(meter)
        self._compactor.wake()  # rewrite the older segments that still hold its readings

    def is_deleted(self, meter_id: str) -> bool:
        with self._lock:
            return meter_id in self._deleted

    def set_timezone(self, meter_id: str, tz: tzinfo) -> None:
        """Local days of `meter_id` are days in `tz` from now on (UTC until set)."""
        with self._lock:
            self._check_open()
            self._zones[meter_id] = tz
            meter = self._meters.get(meter_id)
            if meter is not None:
                meter.set_timezone(tz)

    def set_flow(self, meter_id: str, policy: FlowPolicy) -> None:
        """How `meter_id`'s counter moves (flows.py; monotonic until set); rebuilds its rollups."""
        with self._lock:
            self._check_open()
            self._policies[meter_id] = policy
            meter = self._meters.get(meter_id)
            if meter is not None:
                meter.set_policy(policy)

    def add_listener(self, callback: Callable[[str, int], None]) -> None:
        """`callback(meter_id, max_seq)` after each durable append that stored something; its
        exceptions are logged, never raised into the append."""
        with self._lock:
            self._listeners.append(callback)

    def compact(self) -> None:
        """Rotate the journal, compact every closed journal and reclaim deleted streams now, in
        this thread. StorageFull / StorageUnavailable if the disk cannot take it."""
        try:
            with self._lock:
                self._check_open()
                self._journal.rotate()
            self._compactor.run_once()
        except StoreDamaged as damage:
            self._damage = damage
            raise
        except StoreError as error:
            if not isinstance(error, ReadingStoreError):
                self._health.failed(error)
            raise

    def _on_compaction(self, error: Exception | None) -> None:
        if isinstance(error, StoreDamaged):
            self._damage = error
        elif isinstance(error, StoreError) and not isinstance(error, ReadingStoreError):
            self._health.failed(error)
        elif error is None:
            self._health.succeeded()

    def health(self) -> tuple[bool, str | None]:
        """(True, None), or (False, why in pt-BR) while the disk is full, descriptors are
        exhausted, or compaction met damage; a full disk that frees up is noticed here."""
        if self._damage is not None:
            return False, f"{self._damage.reason}: execute `servidor reparar` com o servidor parado"
        return self._health.health()

    def _probe(self) -> None:
        with self._lock:
            if self._closed:
                return
            journal = self._journal
        journal.heal()
        try:
            probe_write(self._directory, self._durable)
        except OSError as exc:
            raise storage_error(exc, "as leituras") from exc

    def close(self) -> None:
        """Stop and join the compaction thread, flush and close the journal; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._waiter.stop()
            self._compactor.stop()
            self._journal.close()
        finally:
            self._dir_lock.release()

    # -- reads --------------------------------------------------------------------------------

    def _meter(self, meter_id: str) -> MeterColumns | None:
        self._check_open()
        meter = self._meters.get(meter_id)
        return meter if meter is not None and len(meter) else None

    def meters(self) -> list[str]:
        with self._lock:
            self._check_open()
            return sorted(m for m, meter in self._meters.items() if len(meter))

    def deleted_streams(self) -> list[str]:
        """The deleted stream keys, sorted."""
        with self._lock:
            self._check_open()
            return sorted(self._deleted.keys)

    def snapshot(self) -> tuple[dict[str, Columns], frozenset[str]]:
        """Copies of every live stream's readings and the deleted keys, at one instant (a backup)."""
        with self._lock:
            self._check_open()
            return {key: m.copy_columns() for key, m in self._meters.items() if len(m)}, self._deleted.keys

    def stats(self) -> dict:
        """Counts and disk usage; never fails for lack of descriptors (the last usage is kept)."""
        with self._lock:
            self._check_open()
            readings, meters = self._count, sum(1 for m in self._meters.values() if len(m))
        try:
            self._usage = disk_usage(self._directory)
        except OSError as exc:  # no descriptor to list the directory: health() says so
            self._health.failed(storage_error(exc, "o tamanho das leituras", "medir"))
        total, journal, segments = self._usage
        return {"leituras": readings, "medidores": meters, "bytes_disco": total,
                "bytes_diario": journal, "segmentos": segments}

    def __enter__(self) -> "ReadingStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
