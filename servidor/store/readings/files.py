"""The store directory: file names, listing, the process lock, and durable file operations.

Layout: `LOCK` (header only; held with flock while open), `journal-<n>.log` (append-only
records), `segment-<n>.seg` (journal n, compacted), `deleted-streams` (keys dead forever).
Numbers rise; segment n replaces journal n. `servidor reparar` puts damaged originals in
`danificados/`, which nothing here reads.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from shared.durable import TEMP_SUFFIX, fsync_dir, write_atomic  # noqa: F401 (re-exported)

from .codec import FORMAT_VERSION, HEADER_SIZE, LOCK_MAGIC, file_header, header_damage
from .errors import StoreLocked

try:
    import fcntl
except ImportError:  # Windows: no flock; a second process on the same directory is then unguarded
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "LOCK"
_JOURNAL = re.compile(r"journal-(\d{10})\.log")
_SEGMENT = re.compile(r"segment-(\d{10})\.seg")


def journal_path(directory: Path, number: int) -> Path:
    return directory / f"journal-{number:010d}.log"


def segment_path(directory: Path, number: int) -> Path:
    return directory / f"segment-{number:010d}.seg"


def scan(directory: Path, remove_temps: bool = False) -> tuple[dict[int, Path], dict[int, Path]]:
    """(journals, segments) by number. With `remove_temps` (only at open, when nothing else is
    writing) leftovers of an interrupted atomic write go: never renamed, nothing refers to them."""
    journals: dict[int, Path] = {}
    segments: dict[int, Path] = {}
    for entry in os.scandir(directory):
        if entry.name.endswith(TEMP_SUFFIX):
            if remove_temps:
                os.unlink(entry.path)
        elif match := _JOURNAL.fullmatch(entry.name):
            journals[int(match.group(1))] = Path(entry.path)
        elif match := _SEGMENT.fullmatch(entry.name):
            segments[int(match.group(1))] = Path(entry.path)
    return journals, segments


def disk_usage(directory: Path) -> tuple[int, int, int]:
    """(bytes of all store files, bytes of journals, number of segments)."""
    total = journal = segments = 0
    for entry in os.scandir(directory):
        try:
            size = entry.stat().st_size
        except FileNotFoundError:  # deleted by the compactor while we looked
            continue
        total += size
        if _JOURNAL.fullmatch(entry.name):
            journal += size
        elif _SEGMENT.fullmatch(entry.name):
            segments += 1
    return total, journal, segments


def write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    if written == len(data):  # nearly always: a short write is a full disk or a signal
        return
    view = memoryview(data)[written:]
    while view:
        written = os.write(fd, view)
        view = view[written:]


# The health probe writes this much: a page, the least a write to a full disk can need.
PROBE_BYTES = 4096


def probe_write(directory: Path, durable: bool) -> None:
    """Write, sync and remove a small file in `directory`: OSError while the disk is full or
    descriptors are exhausted, the conditions a store's health waits out."""
    path = directory / f".probe{TEMP_SUFFIX}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, bytes(PROBE_BYTES))
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)


def remove(path: Path, durable: bool) -> None:
    path.unlink(missing_ok=True)
    if durable:
        fsync_dir(path.parent)


class DirectoryLock:
    """An exclusive flock on `LOCK`, so two servers never write the same journal. The kernel
    drops it when the process dies, even by kill -9, so a crash never leaves it stale."""

    def __init__(self, directory: Path, durable: bool) -> None:
        path = directory / LOCK_NAME
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise StoreLocked("as leituras já estão abertas por outro processo", str(directory)) from None
            head = os.pread(self._fd, HEADER_SIZE, 0)
            # The LOCK header is the directory's format mark: a newer program's directory is
            # refused here (header_damage raises), before any of its files is touched. Anything
            # else unreadable (a new directory, a crash mid-write, a flipped bit) holds no data
            # and is written again.
            if len(head) < HEADER_SIZE or header_damage(head, LOCK_MAGIC, LOCK_NAME, FORMAT_VERSION):
                os.ftruncate(self._fd, 0)
                os.pwrite(self._fd, file_header(LOCK_MAGIC), 0)
                if durable:
                    os.fsync(self._fd)
        except BaseException:
            os.close(self._fd)
            raise

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = -1
