"""The journal: numbered append-only files of records, durable before an append returns.

Group commit: fsync costs milliseconds whatever it flushes, so writers share it. A writer
appends its record (page cache, microseconds), then waits until the synced offset passes
its own: if an fsync is in flight it waits for it and checks again; otherwise it becomes the
syncer and flushes everything written so far, its own record and any written meanwhile.
With 16 threads, one fsync acknowledges up to 16 appends.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable

from .codec import HEADER_SIZE, JOURNAL_MAGIC, Accumulator, check_header, file_header, gather
from .errors import ReadingStoreError
from .files import journal_path, write_all, write_atomic

log = logging.getLogger(__name__)

# fdatasync flushes the data and the size of an appended file, which is all a reader needs;
# it skips the timestamps that fsync would also write.
_datasync = getattr(os, "fdatasync", os.fsync)


def create_journal(directory: Path, number: int, durable: bool) -> Path:
    """A new journal holding only its header, created whole (temp file + rename)."""
    path = journal_path(directory, number)
    write_atomic(path, file_header(JOURNAL_MAGIC), durable=durable)
    return path


def replay_journal(path: Path, blocks: dict[str, Accumulator], on_tombstone: Callable[[str], None],
                   durable: bool) -> int:
    """Add each intact record of `path` to `blocks` (see codec.gather), cut a torn or damaged
    tail, and return the size of what remains. A crash mid-append leaves at most one torn
    record, at the end: it was never acknowledged, since acknowledgement waits for the fsync."""
    data = path.read_bytes()
    check_header(data, JOURNAL_MAGIC, path.name)
    end = gather(data, HEADER_SIZE, blocks, on_tombstone)
    if end < len(data):
        log.warning("%s: %d bytes após o último registro íntegro descartados (escrita interrompida)",
                    path.name, len(data) - end)
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, end)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
    return end


class JournalWriter:
    """The open journal. `write` appends a record and returns its end offset (a position in the
    stream of all bytes written since open, across files); `wait_durable` returns once that
    offset is on disk. When the file passes `max_bytes` it is closed (fsynced) and the next
    number started; `on_rotate` then tells the compactor."""

    def __init__(self, directory: Path, number: int, *, durable: bool, max_bytes: int,
                 on_rotate: Callable[[], None]) -> None:
        self._directory = directory
        self._number = number
        self._durable = durable
        self._max_bytes = max_bytes
        self._on_rotate = on_rotate
        self._fd = os.open(journal_path(directory, number), os.O_WRONLY | os.O_APPEND)
        self._size = os.fstat(self._fd).st_size
        if durable:
            # Bytes left by a process that died before its fsync are in the page cache only;
            # they are about to be served as stored, so make them so.
            _datasync(self._fd)
        self._cond = threading.Condition(threading.Lock())
        self._written = 0
        self._synced = 0
        self._syncing = False
        self._failed: ReadingStoreError | None = None
        self._closed = False

    @property
    def number(self) -> int:
        return self._number

    @property
    def written(self) -> int:
        """End offset of the last record written (what `wait_durable` takes)."""
        return self._written

    def _check(self) -> None:
        if self._failed is not None:
            raise self._failed
        if self._closed:
            raise ReadingStoreError("diário de leituras fechado")

    def write(self, record: bytes) -> int:
        with self._cond:
            self._check()
            try:
                write_all(self._fd, record)
            except OSError as exc:
                self._cut_partial_write()
                raise ReadingStoreError(f"não foi possível gravar o diário: {exc}") from exc
            self._size += len(record)
            self._written += len(record)
            end = self._written
            if self._size >= self._max_bytes:
                try:
                    self._rotate_locked()
                except OSError as exc:
                    # The record is written; keep appending to this file and try again later.
                    log.error("não foi possível iniciar novo diário: %s", exc)
            return end

    def _cut_partial_write(self) -> None:
        # Half a record followed by later whole ones would hide those from recovery, which
        # stops at the first bad record: remove the half now, or refuse all further writes.
        try:
            os.ftruncate(self._fd, self._size)
        except OSError as exc:
            self._failed = ReadingStoreError(f"diário inconsistente após falha de escrita: {exc}")

    def wait_durable(self, offset: int) -> None:
        """Return once every byte up to `offset` is on disk (group commit, see module doc)."""
        if not self._durable:
            return
        with self._cond:
            while self._synced < offset:
                self._check()  # closed without its final fsync: the descriptor is gone
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                self._cond.release()
                error = None
                try:
                    # Let writers that are ready to run add their records first: one more record
                    # in this fsync saves its writer a whole fsync wait. Measured with 16
                    # threads: ~7 appends per fsync with this yield, ~4 without.
                    time.sleep(0)
                    # Unlocked reads are safe: the descriptor cannot change while we sync
                    # (rotate and close wait for us), and `_written` only counts bytes whose
                    # os.write has returned.
                    target, fd = self._written, self._fd
                    _datasync(fd)
                except OSError as exc:
                    error = exc
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self._cond.notify_all()
                if error is not None:
                    # After a failed fsync the kernel may have dropped the dirty pages: a retry
                    # could "succeed" without the data. Nothing more is acknowledged.
                    self._failed = ReadingStoreError(f"fsync do diário falhou: {error}")
                    raise self._failed
                self._synced = max(self._synced, target)

    def _rotate_locked(self) -> None:
        while self._syncing:  # the syncer holds our descriptor: let it finish first
            self._cond.wait()
        if self._durable:
            _datasync(self._fd)
        next_number = self._number + 1
        path = create_journal(self._directory, next_number, self._durable)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.close(self._fd)
        self._fd, self._number, self._size = fd, next_number, HEADER_SIZE
        self._synced = self._written
        self._cond.notify_all()
        self._on_rotate()

    def rotate(self) -> bool:
        """Close the current file and start the next, if the current one holds any record."""
        with self._cond:
            self._check()
            if self._size <= HEADER_SIZE:
                return False
            self._rotate_locked()
            return True

    def close(self) -> None:
        """Flush and close; idempotent."""
        with self._cond:
            if self._closed:
                return
            while self._syncing:
                self._cond.wait()
            self._closed = True
            try:
                if self._durable and self._failed is None:
                    _datasync(self._fd)
                    self._synced = self._written
            finally:
                os.close(self._fd)
                self._cond.notify_all()
