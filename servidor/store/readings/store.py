"""ReadingStore: the durable readings store of the server (journal + segments + memory).

Every method is thread-safe. One lock guards the in-memory state and the order of journal
writes, so the journal replays to exactly the state memory holds; fsync happens outside it
(group commit), so a slow disk does not stall readers.

A reading becomes visible to readers when written, an fsync (milliseconds) before its writer
is answered. If the process dies in between, the reading vanishes with its unanswered
request, and the agent, never acknowledged, sends it again.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, timezone, tzinfo
from pathlib import Path
from typing import Callable, Sequence

from shared.models import Reading

from .block import Columns
from .codec import MAX_READINGS_PER_RECORD, Accumulator, encode_batch, encode_meter_id, encode_tombstone
from .columns import MeterColumns
from .errors import ReadingStoreError
from .files import DirectoryLock, disk_usage, remove, scan
from .journal import JournalWriter, create_journal, replay_journal
from .rollups import MeterRollup, check_aligned
from .segments import Compactor, read_segment

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
    `resets` are the accepted readings whose counter is below the previous reading's by ts."""

    aceitas: int
    duplicadas: int
    ultimo_seq: int | None
    resets: tuple[Reading, ...] = ()


class _Recovery:
    """Readings per meter gathered from segments and journals in file order. A tombstone voids
    what was gathered for its meter so far; nothing is sorted or rolled up until the end."""

    def __init__(self) -> None:
        self.blocks: dict[str, Accumulator] = {}

    def _block(self, meter_id: str) -> Accumulator:
        block = self.blocks.get(meter_id)
        if block is None:
            block = self.blocks[meter_id] = Accumulator()
        return block

    def on_tombstone(self, meter_id: str) -> None:
        self.blocks.pop(meter_id, None)

    def load_segment(self, path: Path) -> None:
        for meter in read_segment(path):
            if meter.tombstone:
                self.blocks.pop(meter.meter_id, None)
            if len(meter.columns):
                self._block(meter.meter_id).add_columns(meter.columns)


class ReadingStore:
    """Readings of every meter, durable on return from `append`. Open with `ReadingStore.open`."""

    def __init__(self, directory: Path, lock: DirectoryLock, *, durable: bool, journal_max_bytes: int) -> None:
        self._directory = directory
        self._dir_lock = lock
        self._durable = durable
        self._journal_max_bytes = journal_max_bytes
        self._lock = threading.Lock()
        self._meters: dict[str, MeterColumns] = {}
        self._zones: dict[str, tzinfo] = {}
        self._listeners: list[Callable[[str, int], None]] = []
        self._count = 0
        self._closed = False
        self._journal: JournalWriter | None = None
        self._compactor = Compactor(directory, durable, lambda: self._journal.number)

    @classmethod
    def open(cls, directory: Path, *, durable: bool = True,
             journal_max_bytes: int = DEFAULT_JOURNAL_MAX_BYTES) -> "ReadingStore":
        """Open (creating if needed) the store in `directory`: recover, start compacting.
        StoreCorrupt for unreadable files, StoreLocked if another process has it open.

        `durable=False` skips every fsync (tests, benchmarks): data then survives the death of
        the process, which leaves it in the page cache, but not a power cut."""
        if journal_max_bytes < MIN_JOURNAL_MAX_BYTES:
            raise ValueError(f"journal_max_bytes deve ser ≥ {MIN_JOURNAL_MAX_BYTES}")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        lock = DirectoryLock(directory, durable)
        try:
            store = cls(directory, lock, durable=durable, journal_max_bytes=journal_max_bytes)
            store._recover()
        except BaseException:
            lock.release()
            raise
        store._compactor.start()
        store._compactor.wake()  # journals closed by an earlier run may await compaction
        return store

    def _recover(self) -> None:
        journals, segments = scan(self._directory, remove_temps=True)
        recovery = _Recovery()
        for number in sorted(journals.keys() | segments.keys()):
            if number in segments:
                recovery.load_segment(segments[number])
                if number in journals:  # crash between writing the segment and deleting this
                    remove(journals.pop(number), self._durable)
            else:
                replay_journal(journals[number], recovery.blocks, recovery.on_tombstone, self._durable)
        for meter_id, block in recovery.blocks.items():
            meter = MeterColumns(MeterRollup())
            meter.load(block.columns())
            if len(meter):
                self._meters[meter_id] = meter
                self._count += len(meter)
        recovery.blocks.clear()
        last = max(journals.keys() | segments.keys(), default=0)
        if last not in journals:
            last += 1
            create_journal(self._directory, last, self._durable)
        self._journal = JournalWriter(self._directory, last, durable=self._durable,
                                      max_bytes=self._journal_max_bytes, on_rotate=self._compactor.wake)

    def _check_open(self) -> None:
        if self._closed:
            raise ReadingStoreError("armazenamento de leituras fechado")

    # -- writes -------------------------------------------------------------------------------

    def append(self, meter_id: str, readings: Sequence[Reading]) -> AppendResult:
        """Store the readings not yet stored (by seq); durable when this returns."""
        raw_id = encode_meter_id(meter_id)
        accepted: Sequence[Reading] = ()
        duplicates = 0
        resets: list[Reading] = []
        with self._lock:
            self._check_open()
            meter = self._meters.get(meter_id)
            if meter is None:
                meter = MeterColumns(MeterRollup(self._zones.get(meter_id, timezone.utc)))
            if readings:
                accepted, duplicates = meter.partition(readings)
            for start in range(0, len(accepted), MAX_READINGS_PER_RECORD):
                chunk = accepted if len(accepted) <= MAX_READINGS_PER_RECORD else \
                    accepted[start:start + MAX_READINGS_PER_RECORD]
                cols = Columns.from_readings(chunk)
                # Journal first: if the write fails, memory has not moved.
                self._journal.write(encode_batch(raw_id, cols))
                dropped = meter.insert(cols)
                if dropped:
                    resets += [chunk[i] for i in dropped]
                self._meters[meter_id] = meter
                self._count += len(chunk)
            # Also for an all-duplicate batch: its readings may be another writer's, written
            # but not yet fsynced, and "already stored" must be true when we answer.
            end = self._journal.written
            last_seq = meter.max_seq
        self._journal.wait_durable(end)
        if accepted:
            for listener in list(self._listeners):
                try:
                    listener(meter_id, last_seq)
                except Exception:
                    log.exception("ouvinte de leituras falhou para %s", meter_id)
        return AppendResult(len(accepted), duplicates, last_seq, tuple(resets))

    def delete_meter(self, meter_id: str) -> None:
        """Forget every reading of `meter_id`, durably: a later meter with this id starts empty."""
        raw_id = encode_meter_id(meter_id)
        with self._lock:
            self._check_open()
            self._zones.pop(meter_id, None)
            meter = self._meters.get(meter_id)
            if meter is None:
                return  # nothing stored in memory means nothing stored on disk either
            self._journal.write(encode_tombstone(raw_id))
            del self._meters[meter_id]
            self._count -= len(meter)
            end = self._journal.written
        self._journal.wait_durable(end)

    def set_timezone(self, meter_id: str, tz: tzinfo) -> None:
        """Local days of `meter_id` are days in `tz` from now on (UTC until set)."""
        with self._lock:
            self._check_open()
            self._zones[meter_id] = tz
            meter = self._meters.get(meter_id)
            if meter is not None:
                meter.rollup.set_timezone(tz)

    def add_listener(self, callback: Callable[[str, int], None]) -> None:
        """`callback(meter_id, max_seq)` after each durable append that stored something; its
        exceptions are logged, never raised into the append."""
        with self._lock:
            self._listeners.append(callback)

    def compact(self) -> None:
        """Rotate the journal and compact every closed journal now, in this thread."""
        with self._lock:
            self._check_open()
            self._journal.rotate()
        self._compactor.run_once()

    def close(self) -> None:
        """Stop and join the compaction thread, flush and close the journal; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._compactor.stop()
            self._journal.close()
        finally:
            self._dir_lock.release()

    # -- reads --------------------------------------------------------------------------------

    def _meter(self, meter_id: str) -> MeterColumns | None:
        self._check_open()
        meter = self._meters.get(meter_id)
        return meter if meter is not None and len(meter) else None

    def last(self, meter_id: str) -> Reading | None:
        """The latest reading by ts."""
        with self._lock:
            meter = self._meter(meter_id)
            return meter.reading(len(meter) - 1) if meter else None

    def previous(self, meter_id: str) -> Reading | None:
        """The reading before the latest by ts."""
        with self._lock:
            meter = self._meter(meter_id)
            return meter.reading(len(meter) - 2) if meter and len(meter) > 1 else None

    def count(self, meter_id: str) -> int:
        with self._lock:
            meter = self._meter(meter_id)
            return len(meter) if meter else 0

    def max_seq(self, meter_id: str) -> int | None:
        with self._lock:
            meter = self._meter(meter_id)
            return meter.max_seq if meter else None

    def first_ts(self, meter_id: str) -> int | None:
        with self._lock:
            meter = self._meter(meter_id)
            return meter.ts[0] if meter else None

    def readings(self, meter_id: str, start_ms: int | None = None, end_ms: int | None = None,
                 limit: int = 1000) -> list[tuple[Reading, bool]]:
        """Readings with start <= ts < end in ts order, at most `limit`, each with whether its
        counter is below the previous reading's (a reset)."""
        with self._lock:
            meter = self._meter(meter_id)
            if not meter:
                return []
            rows = meter.index_range(start_ms, end_ms)[:max(limit, 0)]
            return [(meter.reading(i), meter.is_reset(i)) for i in rows]

    def after_seq(self, meter_id: str, seq: int, limit: int = 1000) -> list[Reading]:
        """Readings with seq above `seq`, in seq order, at most `limit`."""
        with self._lock:
            meter = self._meter(meter_id)
            if not meter:
                return []
            return [meter.reading(i) for i in meter.indices_after_seq(seq, limit)]

    def energy(self, meter_id: str, start_ms: int, end_ms: int) -> tuple[float, int]:
        """(Wh, covered ms) in [start, end), both multiples of 15 min (else ValueError)."""
        check_aligned(start_ms, end_ms)
        with self._lock:
            meter = self._meter(meter_id)
            return meter.rollup.energy(start_ms, end_ms) if meter else (0.0, 0)

    def day_energy(self, meter_id: str, first: date, last: date) -> dict[date, tuple[float, int]]:
        """(Wh, covered ms) per local day of the meter in [first, last], days with data only."""
        with self._lock:
            meter = self._meter(meter_id)
            return meter.rollup.day_energy(first, last) if meter else {}

    def meters(self) -> list[str]:
        with self._lock:
            self._check_open()
            return sorted(m for m, meter in self._meters.items() if len(meter))

    def stats(self) -> dict:
        with self._lock:
            self._check_open()
            readings, meters = self._count, sum(1 for m in self._meters.values() if len(m))
        total, journal, segments = disk_usage(self._directory)
        return {"leituras": readings, "medidores": meters, "bytes_disco": total,
                "bytes_diario": journal, "segmentos": segments}

    def __enter__(self) -> "ReadingStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
