"""Giving a connection back, from whichever thread owns it: to wait for the next request's bytes,
for room to write the rest of an answer, to linger after the last one, to be closed.

A mixin of Reactor (it uses the reactor's poller, limits, budget and close queue): the owner
of a connection (a worker, or the selector thread) calls these when it is done with it.
"""
from __future__ import annotations

import logging
import threading
import time

from shared.http.errors import ProtocolError

from .connection import LINGER_TIMEOUT, After, Connection, State
from .poller import READ, WRITE

log = logging.getLogger("servidor.net")


class Handback:
    """Reactor's methods for a connection's owner; `close_later` is the only way a thread other
    than the selector's has a connection closed."""

    def refuse(self, conn: Connection, error: ProtocolError) -> None:
        """Answer an error the connection cannot survive (parse error, 408, 503), then linger."""
        log.debug("%s -> %d %s (connection closed)", conn.peer[0], int(error.status), error.code)
        # No request will be read from it again: its buffered bytes go now, not at the close.
        conn.forget_input()
        conn.charge = self._budget.charge(conn.client, conn.charge, 0)
        try:
            sent = conn.send(self._refusal(error))
        except OSError:
            self.close(conn)
            return
        if sent:
            self.linger(conn)
        else:
            conn.after = After.LINGER
            self.await_write(conn)

    def await_read(self, conn: Connection, now: float) -> None:
        """Watch for the next bytes of a request, under the idle or the read deadline."""
        if conn.request_pending:
            # Limits.read_timeout runs from the request's first byte, not from the last one:
            # a client trickling a byte a second (slowloris) must not extend it forever.
            if conn.request_started is None:
                conn.request_started = now
            conn.deadline = conn.request_started + self._limits.read_timeout
        else:
            conn.request_started = None
            conn.deadline = conn.idle_since + self._limits.idle_timeout
        conn.state = State.READING
        if not self._poller.arm(conn.sock, conn, READ):
            self.close_later(conn)

    def await_write(self, conn: Connection) -> None:
        """Watch for room to send `conn.out`; the response must be taken by the write deadline."""
        conn.deadline = time.monotonic() + self._server_limits.write_timeout
        conn.state = State.WRITING
        if not self._poller.arm(conn.sock, conn, WRITE):
            self.close_later(conn)

    def linger(self, conn: Connection) -> None:
        """Last response sent: half-close, then drain until the peer closes (RFC 9112 §9.6)."""
        if conn.eof or self.stopping:
            # The peer already closed its side, or there is no time: drop what came and close.
            conn.discard_pending()
            self.close_later(conn)
            return
        conn.half_close()
        conn.deadline = time.monotonic() + LINGER_TIMEOUT
        conn.state = State.LINGERING
        if not self._poller.arm(conn.sock, conn, READ):
            self.close_later(conn)

    def close_later(self, conn: Connection) -> None:
        """Have the selector thread close `conn` (the only thread that removes connections)."""
        if threading.current_thread() is self.thread:
            self.close(conn)
            return
        conn.state = State.RETURNING
        with self._lock:
            if not self._done:
                self._closing.append(conn)
                queued = True
            else:
                queued = False
        if queued:
            self.wake()
        else:
            conn.close()

