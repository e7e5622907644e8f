"""The journal: numbered append-only files of records, durable before an append returns.

Group commit: fsync costs milliseconds whatever it flushes, so writers share it. A writer
appends its record (page cache, microseconds), then waits until the synced offset passes
its own: if an fsync is in flight it sleeps until that fsync ends, which wakes it if its
record is durable or if it is first in line for the next fsync (not every waiter each time);
otherwise it becomes the syncer and flushes everything written so far, its own record and any
written meanwhile.
With 16 threads, one fsync acknowledges up to 16 appends.

A full disk or a failed fsync never leaves half a state behind. A write that fails is cut off
the file at once. After a failed fsync the kernel may have dropped the dirty pages, so the
file past the last good fsync is of unknown content: the writer keeps the records written
since then, and before anything else is written or acknowledged it repairs the file (cut
back to the last good fsync, those records written again, fsync). Until a repair succeeds
every append fails with StorageFull / StorageUnavailable; the first one after space returns
repairs and goes on, without a restart.
"""
from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

from servidor.store.errors import StoreError, storage_error

from .codec import HEADER_SIZE, JOURNAL_MAGIC, JOURNAL_VERSION, Accumulator, LogScan, file_header, gather, header_damage
from .errors import ReadingStoreError
from .files import TEMP_SUFFIX, journal_path, write_all

log = logging.getLogger(__name__)

# fdatasync flushes the data and the size of an appended file, which is all a reader needs;
# it skips the timestamps that fsync would also write.
_datasync = getattr(os, "fdatasync", os.fsync)
_new_lock = threading.Lock

# After a rotation fails (no descriptor, no space for the new file) appends go on in the
# current file; trying again on every append would cost each an fsync.
ROTATE_RETRY_S = 1.0

WHAT = "as leituras"


def open_new_journal(directory: Path, number: int, durable: bool) -> int:
    """Create journal `number` holding only its header; return a descriptor appending to it.
    What can fail for lack of descriptors or space happens before the rename, so a failure
    leaves no new journal behind (a journal must never follow one still being written)."""
    path = journal_path(directory, number)
    temp = directory / f".{path.name}{TEMP_SUFFIX}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    dir_fd = -1
    try:
        write_all(fd, file_header(JOURNAL_MAGIC, JOURNAL_VERSION))
        if durable:
            os.fsync(fd)
            dir_fd = os.open(directory, os.O_RDONLY)
        os.replace(temp, path)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        if dir_fd >= 0:
            os.close(dir_fd)
        raise
    try:
        if durable:
            os.fsync(dir_fd)  # the new name is durable only with its directory
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    finally:
        if dir_fd >= 0:
            os.close(dir_fd)
    return fd


def create_journal(directory: Path, number: int, durable: bool) -> Path:
    """A new journal holding only its header, created whole."""
    os.close(open_new_journal(directory, number, durable))
    return journal_path(directory, number)


def replay_journal(path: Path, blocks: dict[str, Accumulator], on_tombstone: Callable[[str], None], *,
                   tail_may_be_torn: bool = False) -> LogScan:
    """Add each intact record of `path` to `blocks` (see codec.gather) and say what was damaged.
    Only the active journal (`tail_may_be_torn`) may end in a torn record: a crash mid-append
    leaves at most one, never acknowledged, since acknowledgement waits for the fsync."""
    data = path.read_bytes()
    damaged = header_damage(data, JOURNAL_MAGIC, path.name, JOURNAL_VERSION)
    scan = gather(data, HEADER_SIZE, blocks, on_tombstone, path.name, tail_may_be_torn)
    if damaged is None:
        return scan
    return LogScan(scan.end, (damaged, *scan.damages), scan.torn)


def cut_torn_tail(path: Path, end: int, durable: bool) -> None:
    """Remove the torn record after `end`, so that the next append starts on a record boundary."""
    log.warning("%s: %d bytes de um registro incompleto no fim descartados (escrita interrompida por uma "
                "parada; nunca foi confirmado)", path.name, path.stat().st_size - end)
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, end)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


class JournalWriter:
    """The open journal. `write` appends a record and returns its end offset (a position in the
    stream of all bytes written since open, across files); `wait_durable` returns once that
    offset is on disk. When the file passes `max_bytes` it is closed (fsynced) and the next
    number started; `on_rotate` then tells the compactor, `on_fault` hears a failed rotation."""

    def __init__(self, directory: Path, number: int, *, durable: bool, max_bytes: int,
                 on_rotate: Callable[[], None], on_fault: Callable[[StoreError], None] = lambda _e: None) -> None:
        self._directory = directory
        self._number = number
        self._durable = durable
        self._max_bytes = max_bytes
        self._on_rotate = on_rotate
        self._on_fault = on_fault
        self._fd = os.open(journal_path(directory, number), os.O_WRONLY | os.O_APPEND)
        self._size = os.fstat(self._fd).st_size
        if durable:
            # Bytes left by a process that died before its fsync are in the page cache only;
            # they are about to be served as stored, so make them so.
            _datasync(self._fd)
        self._cond = threading.Condition(threading.Lock())
        self._written = 0
        self._synced = 0
        # Records past `_synced`, as (end offset, bytes): what a repair writes again.
        self._pending: deque[tuple[int, bytes]] = deque()
        self._syncing = False
        # Writers waiting for the fsync after the one in flight, as (offset, a lock held until
        # `_wake` releases it): see `_wake`.
        self._sleepers: list[tuple[int, threading.Lock]] = []
        self._broken: StoreError | None = None
        # Why the last rotation failed, until one succeeds: appends go on meanwhile.
        self._rotation_fault: StoreError | None = None
        self._rotate_after = 0.0
        self._closed = False

    @property
    def number(self) -> int:
        return self._number

    @property
    def written(self) -> int:
        """End offset of the last record written (what `wait_durable` takes)."""
        return self._written

    @property
    def fault(self) -> StoreError | None:
        """Why the journal needs a repair before it takes another record, or why it cannot
        start its next file; None when neither."""
        return self._broken or self._rotation_fault

    def _check_open(self) -> None:
        if self._closed:
            raise ReadingStoreError("diário de leituras fechado")

    def write(self, record: bytes) -> int:
        """Append `record`; StorageFull / StorageUnavailable (and nothing written) if it fails."""
        with self._cond:
            self._check_open()
            if self._broken is not None:
                self._repair_locked()
            try:
                write_all(self._fd, record)
            except OSError as exc:
                self._cut_partial_write()
                raise storage_error(exc, WHAT) from exc
            self._size += len(record)
            self._written += len(record)
            end = self._written
            if self._durable:
                self._pending.append((end, record))
            else:
                self._synced = end
            if self._size >= self._max_bytes and time.monotonic() >= self._rotate_after:
                try:
                    self._rotate_locked()
                except (OSError, StoreError) as exc:
                    # The record is written; keep appending to this file and try again later.
                    self._rotate_after = time.monotonic() + ROTATE_RETRY_S
                    error = exc if isinstance(exc, StoreError) else storage_error(exc, "um novo diário")
                    log.error("não foi possível iniciar novo diário: %s", error)
                    self._rotation_fault = error
                    self._on_fault(error)
            return end

    def _cut_partial_write(self) -> None:
        # Half a record followed by later whole ones would read as damage: remove the half
        # now, or have the next write repair the file first.
        try:
            os.ftruncate(self._fd, self._size)
        except OSError as exc:
            self._broken = storage_error(exc, WHAT)

    def wait_durable(self, offset: int) -> None:
        """Return once every byte up to `offset` is on disk (group commit, see module doc);
        StorageFull / StorageUnavailable if that cannot be made true now."""
        if self._synced >= offset:  # already (without fsync: always): no lock needed, it only grows
            return
        with self._cond:
            while self._synced < offset:
                self._check_open()  # closed without its final fsync: the descriptor is gone
                if self._broken is not None:
                    self._repair_locked()
                    continue
                if self._syncing:
                    self._sleep_until_woken(offset)
                    continue
                self._syncing = True
                self._cond.release()
                error = None
                synced = False
                try:
                    # Let writers that are ready to run add their records first: one more record
                    # in this fsync saves its writer a whole fsync wait. Measured with 16
                    # threads: ~7 appends per fsync with this yield, ~4 without.
                    time.sleep(0)
                    # Unlocked reads are safe: the descriptor cannot change while we sync
                    # (rotate, repair and close wait for us), and `_written` only counts bytes
                    # whose os.write has returned.
                    target, fd = self._written, self._fd
                    _datasync(fd)
                    synced = True
                except OSError as exc:
                    error = exc
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    if synced:
                        self._advance_synced(target)
                    elif error is not None:
                        self._broken = storage_error(error, WHAT)  # the next round repairs, or raises why not
                    self._wake()

    def _sleep_until_woken(self, offset: int) -> None:
        """Under the lock, while an fsync is in flight: sleep, the lock released, until `_wake`
        says our offset is durable or that it is our turn to sync."""
        entry = (offset, _new_lock())
        entry[1].acquire()
        self._sleepers.append(entry)
        self._cond.release()
        try:
            entry[1].acquire()
        finally:
            self._cond.acquire()
            if entry in self._sleepers:  # left by an exception, not by _wake
                self._sleepers.remove(entry)

    def _wake(self) -> None:
        """Under the lock, after a change: wake the Condition's waiters (rotate, repair, close),
        the sleepers whose offset is now durable and, while no fsync is in flight, the first
        other sleeper to start one; every sleeper when the journal is broken or closed (each
        must see why). Waking only those, not every writer on every fsync, spares most of them
        a wake-up that would only put them back to sleep."""
        self._cond.notify_all()
        if not self._sleepers:
            return
        everyone = self._broken is not None or self._closed
        starter_needed = not self._syncing
        kept = []
        for entry in self._sleepers:
            if everyone or entry[0] <= self._synced:
                entry[1].release()
            elif starter_needed:
                starter_needed = False
                entry[1].release()
            else:
                kept.append(entry)
        self._sleepers = kept

    def _advance_synced(self, target: int) -> None:
        self._synced = max(self._synced, target)
        pending = self._pending
        while pending and pending[0][0] <= self._synced:
            pending.popleft()

    def _repair_locked(self) -> None:
        """Cut the file back to the last good fsync and write the records since then again."""
        while self._syncing:
            self._cond.wait()
        if self._broken is None:
            return
        keep = self._size - (self._written - self._synced)
        tail = b"".join(record for _, record in self._pending)
        try:
            os.ftruncate(self._fd, keep)
            write_all(self._fd, tail)
            if self._durable:
                _datasync(self._fd)
        except OSError as exc:
            self._broken = storage_error(exc, WHAT)
            raise copy.copy(self._broken) from exc
        log.warning("diário de leituras refeito após uma falha de gravação (%d bytes regravados)", len(tail))
        self._broken = None
        self._advance_synced(self._written)
        self._wake()

    def heal(self) -> None:
        """Repair, and start the next file if one is due, now (the health probe): StoreError
        if that still cannot be done."""
        with self._cond:
            self._check_open()
            if self._broken is not None:
                self._repair_locked()
            if self._rotation_fault is not None and self._size >= self._max_bytes:
                try:
                    self._rotate_locked()
                except OSError as exc:
                    raise storage_error(exc, "um novo diário") from exc

    def _rotate_locked(self) -> None:
        while self._syncing:  # the syncer holds our descriptor: let it finish first
            self._cond.wait()
        if self._broken is not None:
            self._repair_locked()
        if self._durable:
            try:
                _datasync(self._fd)
            except OSError as exc:
                self._broken = storage_error(exc, WHAT)
                raise
        self._advance_synced(self._written)
        next_number = self._number + 1
        fd = open_new_journal(self._directory, next_number, self._durable)
        os.close(self._fd)
        self._fd, self._number, self._size = fd, next_number, HEADER_SIZE
        self._rotation_fault = None
        self._wake()
        self._on_rotate()

    def rotate(self) -> bool:
        """Close the current file and start the next, if the current one holds any record."""
        with self._cond:
            self._check_open()
            if self._size <= HEADER_SIZE:
                return False
            try:
                self._rotate_locked()
            except OSError as exc:
                raise storage_error(exc, "um novo diário") from exc
            return True

    def close(self) -> None:
        """Flush and close; idempotent. Records that cannot be flushed were never acknowledged."""
        with self._cond:
            if self._closed:
                return
            while self._syncing:
                self._cond.wait()
            self._closed = True
            try:
                if self._broken is not None:
                    self._repair_locked()
                elif self._durable:
                    _datasync(self._fd)
                    self._advance_synced(self._written)
            except (OSError, StoreError) as exc:
                log.error("diário fechado sem gravar %d bytes nunca confirmados: %s",
                          self._written - self._synced, exc)
            finally:
                os.close(self._fd)
                self._wake()
