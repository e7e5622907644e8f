"""Callbacks run once the journal has made an offset durable, for writers that do not wait.

A writer that blocks in `JournalWriter.wait_durable` holds a thread for the whole fsync. The
server's ingest fast path instead hands its offset here and returns: one thread owned by the
store waits for the highest offset handed in so far (joining the journal's group commit, so
many writers still share one fsync) and then runs every callback whose offset that covers, with
None, or with the StoreError that made it impossible.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from servidor.store.errors import StoreError

log = logging.getLogger(__name__)

Done = Callable[[StoreError | None], None]


class DurableWaiter:
    """Started on first use; `stop` runs what is pending (with the journal's answer) and joins."""

    def __init__(self, wait_durable: Callable[[int], None]) -> None:
        self._wait_durable = wait_durable
        self._cond = threading.Condition()
        self._pending: list[tuple[int, Done]] = []
        self._thread: threading.Thread | None = None
        self._stopping = False

    def after(self, offset: int, done: Done) -> None:
        """Run `done` once everything up to `offset` is on disk (in the waiter's thread)."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("store closed")
            self._pending.append((offset, done))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="leituras-duraveis", daemon=True)
                self._thread.start()
            self._cond.notify()

    def stop(self) -> None:
        """Let the pending callbacks run, then end the thread (before the journal closes)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                if not batch and self._stopping:
                    return
            error: StoreError | None = None
            try:
                self._wait_durable(max(offset for offset, _ in batch))
            except StoreError as exc:
                error = exc
            for _, done in batch:
                try:
                    done(error)
                except Exception:
                    log.exception("falha ao responder leituras já gravadas")
