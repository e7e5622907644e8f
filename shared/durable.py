"""Files that survive a crash: whole-file replacement (temp file, fsync, os.replace, fsync of
the directory) and the directory fsync that makes a rename or a new file's name durable.

Used by the server's document store and readings segments and by the agent's state and spool,
so that "a crash leaves the old file or the new one, never a mix" has one implementation; and
`append_at`, the durable append of the journals kept beside the readings (blinks, events).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

# Temp files end with this, so that recovery code can recognise and remove leftovers.
TEMP_SUFFIX = ".tmp"


def fsync_dir(directory: Path) -> None:
    """POSIX: creations, renames and deletions in `directory` are durable only once the
    directory itself is fsynced; a file's own fsync does not cover its name."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, durable: bool = True, mode: int = 0o644) -> None:
    """Replace `path` by `data` all at once. The temp file is unique (two writers never rename
    away each other's) and created with `mode` (0o600 for secrets such as keys).

    Every descriptor is opened before the rename, so running out of them (EMFILE) fails with
    the old file in place rather than after the new one is already there."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    dir_fd = -1
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
            dir_fd = os.open(path.parent, os.O_RDONLY)
        os.close(fd)
        fd = -1
        os.replace(temp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        if dir_fd >= 0:
            os.close(dir_fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if durable:
        try:
            os.fsync(dir_fd)  # see fsync_dir
        finally:
            os.close(dir_fd)


def append_at(path: Path, size: int, data: bytes) -> None:
    """Write `data` at `size` (cutting anything after it: a torn append a crash left) and fsync;
    on failure cut back to `size`, so nothing unacknowledged stays in the file."""
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            os.ftruncate(fd, size)
            view, position = memoryview(data), size
            while view:
                written = os.pwrite(fd, view, position)
                view, position = view[written:], position + written
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, size)
            except OSError:
                pass  # cut at the next open: a torn tail is never acknowledged
            raise
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)
