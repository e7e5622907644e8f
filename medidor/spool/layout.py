"""The files of a spool directory: their names, the segment list, and the lock that keeps two
processes (two agents started with the same --estado and --id, or an agent and `medidor
reparar`) from writing the same spool."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import SpoolError

try:
    import fcntl
except ImportError:  # not POSIX: no lock, as before this existed
    fcntl = None  # type: ignore[assignment]

SEGMENT_SUFFIX = ".seg"
CURSOR_FILE = "confirmado.dat"
LEGACY_CURSOR_FILE = "confirmado.json"   # written by agents before the in-place cursor
LOCK_FILE = "trava"


def segment_name(index: int) -> str:
    return f"{index:012d}{SEGMENT_SUFFIX}"


def segment_path(directory: Path, index: int) -> Path:
    return directory / segment_name(index)


def list_segments(directory: Path) -> list[int]:
    """Segment indexes present, in order."""
    out = []
    for entry in directory.iterdir():
        if entry.suffix == SEGMENT_SUFFIX and entry.stem.isdigit():
            out.append(int(entry.stem))
    return sorted(out)


def lock(directory: Path) -> int:
    """Take the spool's lock or raise SpoolError; returns the descriptor that holds it.

    POSIX record locks (lockf) are per process, so a test that abandons a Spool object the way a
    crash would and opens the directory again in the same process is not refused."""
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    if fcntl is None:
        return fd
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise SpoolError(f"o spool em {directory} está em uso por outro processo (outro medidor com o mesmo "
                         "--estado e --id, ou um reparo em andamento)") from None
    return fd
