"""A real disk that fills up and frees again, for the stores' full-disk tests.

As root (the test machine and CI containers) this is a tmpfs of a few MiB mounted for the
test: the kernel itself answers ENOSPC, with the short writes that come before it. Without
the right to mount, the same tests run against an injected fault instead: os.write raises
ENOSPC for descriptors under the directory while it is "full". That seam is narrower (no
short writes, no failed file creation), so the test output says which one ran.
"""
from __future__ import annotations

import errno
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

BALLAST = "lastro"
# Enough for a store's files; small enough to fill in a millisecond.
DEFAULT_SIZE = 4 * 2**20
_PAGE = 4096


class SmallDisk:
    """`path` is a file system of `size` bytes; `fill()` takes every free byte, `free()` gives
    them back."""

    kind = "tmpfs"

    def __init__(self, path: Path, size: int = DEFAULT_SIZE) -> None:
        self.path = path
        self.size = size

    def mount(self) -> bool:
        self.path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return False
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", str(self.path)],
                              capture_output=True)
        return done.returncode == 0

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False, capture_output=True)

    def fill(self) -> None:
        fd = os.open(self.path / BALLAST, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            chunk = bytes(64 * _PAGE)
            while True:
                try:
                    os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    if len(chunk) == 1:
                        break
                    chunk = chunk[:max(1, len(chunk) // 2)]
        finally:
            os.close(fd)

    def free(self) -> None:
        (self.path / BALLAST).unlink(missing_ok=True)


class InjectedFullDisk(SmallDisk):
    kind = "falha injetada em os.write (sem permissão para montar um tmpfs)"

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(path)
        self.full = False
        real = os.write

        def write(fd: int, data) -> int:
            if self.full and self._under(fd):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(fd, data)

        monkeypatch.setattr(os, "write", write)

    def _under(self, fd: int) -> bool:
        try:
            return os.readlink(f"/proc/self/fd/{fd}").startswith(str(self.path))
        except OSError:
            return False

    def fill(self) -> None:
        self.full = True

    def free(self) -> None:
        self.full = False


@contextmanager
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmallDisk]:
    """A SmallDisk at `tmp_path`/disco for the duration of a test (use it from a fixture)."""
    disk = SmallDisk(tmp_path / "disco")
    mounted = disk.mount()
    if not mounted:
        disk = InjectedFullDisk(tmp_path / "disco", monkeypatch)
    print(f"disco cheio simulado por: {disk.kind}")
    try:
        yield disk
    finally:
        if mounted:
            disk.unmount()
