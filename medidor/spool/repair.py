"""`medidor reparar`: rewrite a damaged spool with every intact record, dropping only the bytes
that no longer read back, and raise the seq floor so that no seq that may have reached the
server is used again.

Crash-safe by order: the intact records are copied to new segments numbered after every
existing one, then the cursor is moved to the first of them (one in-place write), then the old
segments are deleted. Interrupted before the cursor moves, the spool is still damaged and the
command is simply run again (the partial copy reads as records out of order and is skipped).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from shared.durable import fsync_dir

from .cursor import Cursor, CursorFile
from .errors import Damage
from .layout import list_segments, lock, segment_path
from .records import SpoolRecord, encode
from .recovery import inspect
from .spool import SEGMENT_BYTES


@dataclass(frozen=True, slots=True)
class RepairResult:
    repaired: bool                 # False: nothing was damaged, nothing was changed
    kept: int                      # pending records in the spool now
    kept_after_damage: int         # of those, how many a truncation would have thrown away
    dropped: tuple[Damage, ...]    # what was removed
    floor: int | None              # the lowest seq the agent may use from now on


class _SegmentWriter:
    """New segments from `index` on, each written whole and fsynced when it is full."""

    def __init__(self, directory: Path, index: int) -> None:
        self.directory = directory
        self.first = index
        self._index = index
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, record: SpoolRecord) -> None:
        if self._size >= SEGMENT_BYTES:
            self._flush()
            self._index += 1
        data = encode(record)
        self._parts.append(data)
        self._size += len(data)

    def _flush(self) -> None:
        fd = os.open(segment_path(self.directory, self._index), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                     0o644)
        try:
            view = memoryview(b"".join(self._parts))
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        self._parts, self._size = [], 0

    def finish(self) -> None:
        self._flush()  # also creates the first segment when nothing was intact
        fsync_dir(self.directory)


def repair(directory: Path, *, floor_at_least: int = 0, margin: int = 0) -> RepairResult:
    """Repair the spool in `directory` if it is damaged. The new seq floor is at least
    `floor_at_least` (the agent's reservation from its state file) and at least `margin` above
    every seq still readable (for when the state file is gone too). Raises SpoolError when the
    spool is in use, OSError when the disk fails."""
    lock_fd = lock(directory)
    try:
        cursors = CursorFile(directory)
        try:
            return _repair(directory, cursors, floor_at_least, margin)
        finally:
            cursors.close()
    finally:
        os.close(lock_fd)


def _repair(directory: Path, cursors: CursorFile, floor_at_least: int, margin: int) -> RepairResult:
    cursor = cursors.cursor
    found = inspect(directory, cursor)
    if found.report is None:
        return RepairResult(False, found.pending, 0, (), None)
    writer = _SegmentWriter(directory, max(list_segments(directory), default=found.cursor.segment) + 1)
    copied = inspect(directory, cursor, on_record=lambda _segment, _offset, record: writer.add(record))
    writer.finish()
    highest = copied.last_seq
    floor = max(floor_at_least, (cursor.floor if cursor and cursor.floor is not None else 0),
                0 if highest is None else highest + 1 + margin)
    start = found.cursor
    cursors.write(Cursor(writer.first, 0, start.acked_seq, start.acked_payload, floor))
    for index in list_segments(directory):
        if index < writer.first:
            segment_path(directory, index).unlink()
    fsync_dir(directory)
    assert copied.report is not None
    return RepairResult(True, copied.pending, copied.report.intact_after, copied.damage, floor)
