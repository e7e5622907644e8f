"""Callbacks run once the journal has made an offset durable, for writers that do not wait.

A writer that blocks in `JournalWriter.wait_durable` holds a thread for the whole fsync. The
server's ingest fast path instead hands its offset here and returns: one thread owned by the
store waits for the highest offset handed in so far (joining the journal's group commit, so
many writers still share one fsync) and then runs every callback whose offset that covers, with
None, or with the StoreError that made it impossible.

Where the callbacks run: in the waiter's thread, or, once `deliver_through(deliver)` is given
one, wherever `deliver(run_group)` runs each fsync's group (the server passes its selector
thread's `call_soon`). The server's callbacks end on that thread anyway (the answer is written
there); running the whole group there in one hand-off, instead of each callback's Python
contending with the selector thread for the GIL, is one switch per fsync rather than several
per reading. `deliver` returning False (the other thread has finished) runs them here.

When an fsync starts: at once, or, `kicked`, when the selector thread has handled its round of
ready sockets (`kick`). Woken by the first reading of a round, the waiter would fsync that one
alone while the round's others wait for the next fsync; kicked, one fsync takes the whole
round (bench: ~25 readings per fsync instead of ~13, a third of the thread switches).
"""
from __future__ import annotations

import logging
import threading
from functools import partial
from typing import Callable

from servidor.store.errors import StoreError

log = logging.getLogger(__name__)

# Kicked, the waiter still looks for work this often: should the kicking thread die between a
# writer's `after` and its kick, that writer waits no longer than this.
KICK_WAIT_S = 1.0

Done = Callable[[StoreError | None], None]
Deliver = Callable[[Callable[[], None]], bool]
Kicks = Callable[[Callable[[], None]], None]


class DurableWaiter:
    """Started on first use; `stop` runs what is pending (with the journal's answer) and joins."""

    def __init__(self, wait_durable: Callable[[int], None]) -> None:
        self._wait_durable = wait_durable
        self._cond = threading.Condition()
        self._pending: list[tuple[int, Done]] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._deliver: Deliver | None = None
        self._kicked = False
        self._kicker: int | None = None   # the thread that calls `kick`

    def deliver_through(self, deliver: Deliver | None, kicks: Kicks | None = None) -> None:
        """Run each group's callbacks through `deliver(run_group)` (None: in the waiter's thread).
        `kicks(kick)` hands `kick` to a thread that calls it once each round of its work is done:
        then that thread's `after`s wait for its kick to start their fsync; `after` from any
        other thread still wakes the waiter at once."""
        self._deliver = deliver
        self._kicked = kicks is not None
        if kicks is not None:
            kicks(self.kick)

    def kick(self) -> None:
        """Start the fsync of what `after` handed in, if the waiter is idle."""
        self._kicker = threading.get_ident()
        if self._pending:
            with self._cond:
                self._cond.notify()

    def after(self, offset: int, done: Done) -> None:
        """Run `done` once everything up to `offset` is on disk (in the waiter's thread)."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("store closed")
            self._pending.append((offset, done))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="leituras-duraveis", daemon=True)
                self._thread.start()
            if not self._kicked or threading.get_ident() != self._kicker:
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
                    self._cond.wait(KICK_WAIT_S if self._kicked else None)
                batch, self._pending = self._pending, []
                if not batch and self._stopping:
                    return
            error: StoreError | None = None
            try:
                self._wait_durable(max(offset for offset, _ in batch))
            except StoreError as exc:
                error = exc
            deliver = self._deliver
            if deliver is None or not deliver(partial(_run_group, batch, error)):
                _run_group(batch, error)


def _run_group(batch: list[tuple[int, Done]], error: StoreError | None) -> None:
    for _, done in batch:
        try:
            done(error)
        except Exception:
            log.exception("falha ao responder leituras já gravadas")
