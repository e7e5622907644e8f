"""A store's health: the last storage failure, kept until an operation or a probe succeeds.

A full disk is noticed by the write that fails; it ends when someone frees space, which no
write announces. So while a failure is remembered, `health()` runs a cheap probe (at most once
per PROBE_INTERVAL_S) that does what the failed write needed: if it succeeds, the store is
healthy again without waiting for the next write or a restart.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .errors import StoreError

log = logging.getLogger(__name__)

# `/saude` may be polled every second by a monitor; a probe is one small fsynced write.
PROBE_INTERVAL_S = 1.0


class Health:
    """`failed(error)` on a storage failure, `succeeded()` after an operation that wrote;
    `health()` -> (ok, reason)."""

    def __init__(self, probe: Callable[[], None]) -> None:
        self._probe = probe
        self._lock = threading.Lock()
        # The remembered failure (read-only outside): None while healthy.
        self.fault: StoreError | None = None
        self._probed_at = 0.0

    def failed(self, error: StoreError) -> None:
        with self._lock:
            if self.fault is None:
                log.warning("armazenamento degradado: %s", error)
            self.fault = error

    def succeeded(self) -> None:
        with self._lock:
            if self.fault is not None:
                log.warning("armazenamento normalizado (%s)", self.fault.reason)
            self.fault = None

    def health(self) -> tuple[bool, str | None]:
        with self._lock:
            fault = self.fault
            if fault is None:
                return True, None
            now = time.monotonic()
            due = now - self._probed_at >= PROBE_INTERVAL_S
            if due:
                self._probed_at = now
        if due:
            try:
                self._probe()
            except StoreError as error:
                self.failed(error)
                return False, error.reason
            self.succeeded()
            return True, None
        return False, fault.reason
