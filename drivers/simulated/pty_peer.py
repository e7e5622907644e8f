"""A pseudo-terminal whose master side a simulated serial device owns, in a thread it owns.

The slave path (/dev/pts/N) is what the driver opens, exactly as it would open /dev/ttyUSB0.
Closing the master is an unplug: the driver's next read fails like a pulled USB cable.
"""
from __future__ import annotations

import os
import select
import threading
import tty
from typing import Callable

# How often the peer thread wakes to check for stop while the line is idle.
POLL_S = 0.05


class PtyPeer:
    """Owns the pty pair and one thread calling `on_bytes(data)` for input and `on_idle()` often."""

    def __init__(self, name: str, on_bytes: Callable[[bytes], None], on_idle: Callable[[], None]) -> None:
        self._name = name
        self._on_bytes = on_bytes
        self._on_idle = on_idle
        self._master: int | None = None
        self._slave: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.path = ""

    def start(self) -> str:
        if self._thread is not None:
            raise RuntimeError(f"{self._name} already started")
        master, slave = os.openpty()
        # Raw on both ends: no echo of requests back to the driver, no CR/LF translation.
        tty.setraw(master)
        tty.setraw(slave)
        # Writes never block the thread: with nobody reading, a real line just loses bytes.
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        return self.path

    def write(self, data: bytes) -> int:
        """Send bytes towards the driver; returns how many the line took (0 when full or closed)."""
        master = self._master
        if master is None:
            return 0
        try:
            return os.write(master, data)
        except (BlockingIOError, OSError):
            return 0

    def stop(self) -> None:
        """Stop the thread, then close both ends (an unplug for whoever has the path open)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def _run(self) -> None:
        master = self._master
        assert master is not None
        while not self._stop.is_set():
            ready, _, _ = select.select([master], [], [], POLL_S)
            if ready:
                try:
                    data = os.read(master, 4096)
                except (BlockingIOError, InterruptedError):
                    data = b""
                except OSError:
                    data = b""  # EIO while no process has the slave open: nothing to read
                if data:
                    self._on_bytes(data)
            self._on_idle()
