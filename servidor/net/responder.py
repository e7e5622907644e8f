"""The worker side of the server: answer the requests of a connection a worker owns.

A worker gets a connection holding a complete request, calls the handler, writes the answer,
answers requests already pipelined behind it, and hands the connection back to the selector
(read again, linger, or close). A handler that returns a Deferred parks the connection and
frees the worker; the Deferred's resolution brings it back to a worker.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Callable

from shared.http.errors import ProtocolError
from shared.http.messages import Headers, Request, Response
from shared.http.request_parser import END_OF_STREAM

from . import exchange
from .connection import After, Connection, State
from .deferred import Deferred
from .exchange import Handler
from .worker_pool import WorkerPool

log = logging.getLogger("servidor.net")

HandBack = Callable[[Connection, After], None]


class Responder:
    """Runs as worker jobs: `serve` for a parsed request, `write_final` for a fatal error."""

    def __init__(
        self,
        handler: Handler,
        *,
        error_types: tuple[type[Exception], ...],
        default_headers: Headers,
        pool: WorkerPool,
        hand_back: HandBack,
    ) -> None:
        self._handler = handler
        self._error_types = error_types
        self._default_headers = default_headers
        self._pool = pool
        self._hand_back = hand_back
        self._lock = threading.Lock()       # guards the three fields below
        self._parked: set[Connection] = set()
        self._stopping = False
        self._served = 0

    @property
    def served(self) -> int:
        return self._served

    def stop(self) -> list[Deferred]:
        """From now on every response closes its connection; the Deferreds parked right now.

        Taken under the lock that `_park` uses, so a connection parked concurrently is either
        in this list or sees the stop itself.
        """
        with self._lock:
            self._stopping = True
            return [c.deferred for c in self._parked if c.deferred is not None]

    def abandon_parked(self) -> list[Connection]:
        """Take every parked connection away for closing; a later resolve finds nothing."""
        with self._lock:
            parked = list(self._parked)
            self._parked.clear()
        return parked

    # -- worker jobs ----------------------------------------------------------------------

    def serve(self, conn: Connection, request: Request | None) -> None:
        """Answer `request`, then any request already pipelined behind it."""
        try:
            while request is not None:
                started = time.monotonic()
                result = exchange.call_handler(self._handler, request, self._error_types)
                if isinstance(result, Deferred):
                    self._park(conn, request, result, started)
                    return
                request = self._answer_and_continue(conn, request, result, started)
        except Exception:
            log.exception("unexpected failure serving %r", conn)
            if conn.state is State.BUSY:
                self._hand_back(conn, After.CLOSE)

    def write_final(self, conn: Connection, response: Response) -> None:
        """Write an error the connection cannot survive (4xx from the parser, 408), then close."""
        data = exchange.encode(response, None, keep_alive=False, default_headers=self._default_headers)
        try:
            conn.send_all(data)
        except OSError as exc:
            log.debug("peer %s went away before its %d: %s", conn.peer, response.status, exc)
            self._hand_back(conn, After.CLOSE)
            return
        log.debug("%s -> %d (connection closed)", conn.peer[0], int(response.status))
        self._hand_back(conn, After.LINGER)

    # -- one exchange ---------------------------------------------------------------------

    def _answer_and_continue(
        self, conn: Connection, request: Request, response: Response, started: float
    ) -> Request | None:
        """Write the response; the next pipelined request, or None once the connection is handed back."""
        keep_alive = request.keep_alive and not response.close and not self._stopping
        try:
            data = exchange.encode(response, request, keep_alive=keep_alive, default_headers=self._default_headers)
        except Exception:
            log.exception("could not serialize the response to %s %s", request.method, request.target)
            response = exchange.INTERNAL_ERROR
            data = exchange.encode(response, request, keep_alive=keep_alive, default_headers=self._default_headers)
        # Counted before the write so that a client holding the response always sees it counted;
        # a peer that leaves mid-write still got an answer from the app.
        with self._lock:
            self._served += 1
        try:
            conn.send_all(data)
        except OSError as exc:
            # A meter that hangs up mid-response is routine (the 004 closes right after sending).
            log.debug("peer %s went away mid-write: %s", conn.peer, exc)
            self._hand_back(conn, After.CLOSE)
            return None
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s %d %.1fms", conn.peer[0], request.method, request.path,
                      int(response.status), (time.monotonic() - started) * 1000)
        if not keep_alive:
            self._hand_back(conn, After.LINGER)
            return None
        # RFC 9112 §9.3.2: responses to pipelined requests go out in the order the requests
        # came; this thread keeps the connection, so the next answer cannot overtake this one.
        try:
            event = conn.pump()
        except ProtocolError as exc:
            self.write_final(conn, exchange.protocol_error(exc))
            return None
        except OSError as exc:
            log.debug("writing 100 Continue to %s failed: %s", conn.peer, exc)
            self._hand_back(conn, After.CLOSE)
            return None
        if isinstance(event, Request):
            return event
        self._hand_back(conn, After.CLOSE if event is END_OF_STREAM else After.READ)
        return None

    # -- long polls -----------------------------------------------------------------------

    def _park(self, conn: Connection, request: Request, deferred: Deferred, started: float) -> None:
        """Release the worker; the connection waits, unread, until the Deferred resolves."""
        conn.state = State.PARKED
        conn.deferred = deferred
        with self._lock:
            self._parked.add(conn)
            stopping = self._stopping
        deferred.add_callback(functools.partial(self._resume, conn, request, started))
        if stopping:
            # stop() already listed the parked set; this one arrived after, so answer it here.
            deferred.resolve(exchange.shutting_down_error())

    def _resume(self, conn: Connection, request: Request, started: float, response: Response) -> None:
        """Deferred callback, in whatever thread resolved it: queue the write of the answer."""
        with self._lock:
            if conn not in self._parked:
                return                     # abandoned at shutdown; the socket is closed
            self._parked.discard(conn)
        conn.deferred = None
        conn.state = State.BUSY
        if not self._pool.submit(self._finish_parked, conn, request, response, started):
            self._hand_back(conn, After.CLOSE)

    def _finish_parked(self, conn: Connection, request: Request, response: Response, started: float) -> None:
        try:
            next_request = self._answer_and_continue(conn, request, response, started)
        except Exception:
            log.exception("unexpected failure answering a parked request on %r", conn)
            if conn.state is State.BUSY:
                self._hand_back(conn, After.CLOSE)
            return
        self.serve(conn, next_request)
