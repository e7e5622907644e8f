"""The agent's durable outbox: readings wait here, on disk, until the server acknowledges them.

Guarantees:
* `append` returns only after its records are fsynced, so a `kill -9` or a power cut loses
  nothing it accepted; an append that raised left nothing behind (its bytes are cut off before
  it raises, and the file is written with positioned OS calls, so no buffer holds them for later).
* `ack_through` returns only after the cursor is durable, so an acknowledged record is never
  handed out again; it frees space as it goes (a fully acknowledged segment is rolled and
  deleted), and recording it never needs space, so a full disk recovers once the server answers.
* Opening cuts off only a torn tail at the end of the newest segment. Any other damage refuses
  to open (SpoolDamaged, with the file, the offset and the command that repairs).
* `last_seq` is never lower than a seq that may have left this machine, whatever was lost.
"""
from __future__ import annotations

import errno
import logging
import os
import threading
from pathlib import Path
from typing import Iterator, Sequence

from shared.durable import fsync_dir

from .cursor import Cursor, CursorFile
from .errors import Damage, DamageReport, SpoolDamaged, SpoolError, SpoolFull
from .layout import lock, segment_path
from .records import SpoolRecord, encode, scan, what_is_wrong
from .recovery import inspect

log = logging.getLogger("medidor.spool")

# Records waiting at most. A reading takes 150-400 bytes on disk, so the spool stays under
# ~400 MB; that is 115 days of 10-s readings, far beyond any outage worth riding out, and the
# catch-up after it (1000 per request) still takes minutes, not hours.
MAX_RECORDS = 1_000_000
# Beyond this fill ratio the agent warns on its status line and raises `spool_cheio`.
WARN_RATIO = 0.8
# Segments roll at this size so acknowledged data is freed in pieces while a backlog drains.
SEGMENT_BYTES = 4 * 1024 * 1024
# A fully acknowledged segment at least this big is rolled and deleted at once, so an agent
# whose server keeps up holds at most this much acknowledged data; after a full disk, any size is.
RECLAIM_BYTES = 64 * 1024
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class Spool:
    """A bounded, durable FIFO of (seq, payload) records with strictly increasing seqs.

    Thread-safe: the measuring thread appends while the sending thread peeks and acknowledges.
    """

    def __init__(self, directory: Path, *, max_records: int = MAX_RECORDS, segment_bytes: int = SEGMENT_BYTES) -> None:
        if max_records < 1:
            raise ValueError("max_records must be ≥ 1")
        self.directory = Path(directory)
        self.max_records = max_records
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._closed = False
        self._fd = -1
        self._lock_fd = -1
        self._cursor_file: CursorFile | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = lock(self.directory)
            self._cursor_file = CursorFile(self.directory)
            self._open()
        except BaseException as exc:
            self._release()
            if isinstance(exc, OSError):
                raise SpoolError(f"não foi possível abrir o spool em {self.directory}: {exc}") from exc
            raise

    # -- public ---------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Records appended and not yet acknowledged."""
        return self._pending

    @property
    def free(self) -> int:
        return self.max_records - self._pending

    @property
    def fill_ratio(self) -> float:
        return self._pending / self.max_records

    @property
    def last_seq(self) -> int | None:
        """The highest seq that may never be used again (appended, acknowledged, or lost in a
        way that may have reached the server), or None for a new spool."""
        return self._last_seq

    @property
    def last_payload(self) -> bytes | None:
        """The newest record's payload, sent or not: where a restarted meter resumes from."""
        return self._last_payload

    @property
    def acked_seq(self) -> int | None:
        return self._cursor.acked_seq

    def append(self, records: Sequence[SpoolRecord]) -> None:
        """Append and fsync; all or nothing. Raises SpoolFull, OSError (nothing appended), or
        ValueError on a seq out of order."""
        if not records:
            return
        with self._lock:
            self._check_open()
            if len(records) > self.free:
                raise SpoolFull(f"spool cheio: {self._pending} de {self.max_records} leituras esperando envio")
            previous = self._last_seq
            for record in records:
                if previous is not None and record.seq <= previous:
                    raise ValueError(f"seq {record.seq} is not after {previous}")
                previous = record.seq
            if self._active_size >= self._segment_bytes:
                self._roll()
            data = b"".join(encode(r) for r in records)
            try:
                self._write_at_end(data)
            except OSError as exc:
                if exc.errno not in _DISK_FULL or not self._reclaim():
                    raise
                self._write_at_end(data)  # acknowledged space was freed: the one retry
            self._active_size += len(data)
            self._pending += len(records)
            self._last_seq = records[-1].seq
            self._last_payload = records[-1].payload

    def peek(self, limit: int) -> list[SpoolRecord]:
        """The oldest `limit` unacknowledged records, oldest first (not removed)."""
        with self._lock:
            self._check_open()
            out: list[SpoolRecord] = []
            for record, _ in self._iter_from(self._cursor):
                if len(out) >= limit:
                    break
                out.append(record)
            return out

    def ack_through(self, seq: int) -> int:
        """Acknowledge every pending record with seq ≤ `seq`; returns how many. Durable on return."""
        with self._lock:
            self._check_open()
            count = 0
            segment, offset = self._cursor.segment, self._cursor.offset
            last: SpoolRecord | None = None
            for record, (segment_after, offset_after) in self._iter_from(self._cursor):
                if record.seq > seq:
                    break
                segment, offset, last, count = segment_after, offset_after, record, count + 1
            if last is None:
                return 0
            if segment < self._active and offset >= self._segment_size(segment):
                segment, offset = segment + 1, 0  # the end of a finished segment: start the next
            self._set_cursor(Cursor(segment, offset, last.seq, last.payload, self._cursor.floor))
            self._pending -= count
            if (segment, offset) == (self._active, self._active_size) and (
                    self._active_size >= RECLAIM_BYTES or self._short_of_space):
                self._reclaim()
            else:
                self._delete_acked_segments()
            return count

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._tail_dirty:
                    try:
                        self._cut_tail()
                    except OSError:
                        pass  # cut when the spool is opened again
                self._release()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- opening --------------------------------------------------------------------------------

    def _open(self) -> None:
        assert self._cursor_file is not None
        if self._cursor_file.problem:
            log.warning("spool: %s", self._cursor_file.problem)
        found = inspect(self.directory, self._cursor_file.cursor)
        if found.report is not None:
            raise SpoolDamaged(found.report)
        self._cursor = found.cursor
        for index in found.stale:
            # Fully acknowledged; the crash came between the cursor write and the delete.
            segment_path(self.directory, index).unlink()
        if found.torn is not None:
            torn = found.torn
            if torn.seq is not None:
                # The header was whole: it may have been a durable record whose length bits
                # flipped, already sent. Its seq is never used again, whatever it was.
                self._set_cursor(Cursor(self._cursor.segment, self._cursor.offset, self._cursor.acked_seq,
                                        self._cursor.acked_payload, max(torn.seq + 1, self._cursor.floor or 0)))
            log.info("spool: %d bytes de uma gravação interrompida descartados no fim de %s", torn.size,
                     segment_path(self.directory, torn.segment).name)
        self._pending = found.pending
        self._last_seq = found.last_seq
        self._last_payload = found.last_payload
        self._active = found.active
        path = segment_path(self.directory, self._active)
        created = not path.exists()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        if created:
            fsync_dir(self.directory)
        self._active_size = found.active_size
        # Set while bytes past `_active_size` may remain from a failed write.
        self._tail_dirty = os.fstat(self._fd).st_size != self._active_size
        self._short_of_space = False
        if self._tail_dirty:
            self._cut_tail()

    def _release(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._lock_fd = -1
        if self._cursor_file is not None:
            self._cursor_file.close()
            self._cursor_file = None

    # -- writing --------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise SpoolError("spool fechado")

    def _write_at_end(self, data: bytes) -> None:
        """Write `data` at `_active_size` and fsync, or cut everything it wrote and raise."""
        if self._tail_dirty:
            self._cut_tail()
        view = memoryview(data)
        position = self._active_size
        try:
            while view:
                written = os.pwrite(self._fd, view, position)
                if written <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view, position = view[written:], position + written
            os.fsync(self._fd)
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                self._short_of_space = True
            self._tail_dirty = True
            try:
                self._cut_tail()
            except OSError:
                log.exception("spool: não foi possível desfazer uma gravação parcial; tentando de novo na próxima")
            raise

    def _cut_tail(self) -> None:
        # Durable too: a partial append left behind by a crash would come back as pending.
        os.ftruncate(self._fd, self._active_size)
        os.fsync(self._fd)
        self._tail_dirty = False

    def _roll(self) -> None:
        """Start the next segment; the current one is finished (nothing past its size)."""
        if self._tail_dirty:
            self._cut_tail()
        index = self._active + 1
        fd = os.open(segment_path(self.directory, index), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fsync_dir(self.directory)
        except BaseException:
            os.close(fd)
            raise
        os.close(self._fd)
        self._fd, self._active, self._active_size = fd, index, 0

    def _set_cursor(self, cursor: Cursor) -> None:
        assert self._cursor_file is not None
        self._cursor_file.write(cursor)
        self._cursor = cursor

    def _reclaim(self) -> bool:
        """Free the disk space of acknowledged records: when everything appended is acknowledged,
        roll to a new segment and delete the old ones. Returns whether anything was freed."""
        cursor = self._cursor
        if (cursor.segment, cursor.offset) != (self._active, self._active_size) or self._active_size == 0:
            return self._delete_acked_segments()
        try:
            self._roll()
            self._set_cursor(Cursor(self._active, 0, cursor.acked_seq, cursor.acked_payload, cursor.floor))
        except OSError as exc:
            log.warning("spool: não foi possível liberar o espaço já confirmado agora (%s)", exc)
            return False
        return self._delete_acked_segments()

    def _delete_acked_segments(self) -> bool:
        deleted = False
        for index in range(self._cursor.segment - 1, -1, -1):
            path = segment_path(self.directory, index)
            try:
                path.unlink()
            except FileNotFoundError:
                break  # older ones went before
            except OSError as exc:
                log.warning("spool: não foi possível apagar %s (%s); tentando de novo depois", path.name, exc)
                break
            deleted = True
        if deleted:
            self._short_of_space = False
            try:
                fsync_dir(self.directory)
            except OSError as exc:
                log.warning("spool: %s", exc)  # the deletions are redone after a crash if lost
        return deleted

    # -- reading --------------------------------------------------------------------------------

    def _segment_size(self, index: int) -> int:
        if index == self._active:
            return self._active_size
        return segment_path(self.directory, index).stat().st_size

    def _iter_from(self, start: Cursor) -> Iterator[tuple[SpoolRecord, tuple[int, int]]]:
        """Pending records from `start` with the position after each, across segments. Bytes
        that no longer read back raise SpoolDamaged: the sender must not skip them silently."""
        index, offset = start.segment, start.offset
        while index <= self._active:
            path = segment_path(self.directory, index)
            limit = self._segment_size(index)
            if offset < limit:
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read(limit - offset)
                end = 0
                for _, record, end in scan(data):
                    yield record, (index, offset + end)
                if end < len(data):
                    raise SpoolDamaged(self._runtime_report(Damage(path, offset + end, limit,
                                                                   what_is_wrong(data, end, None))))
            index, offset = index + 1, 0

    def _runtime_report(self, found: Damage) -> DamageReport:
        """The same report an open would give, for damage found while running."""
        try:
            report = inspect(self.directory, self._cursor).report
        except OSError:
            report = None
        return report or DamageReport(self.directory, (found,), 0, self._pending, 0)
