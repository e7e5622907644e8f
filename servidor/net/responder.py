"""The worker side of the server: answer the requests of a connection a worker owns.

A worker gets a connection holding a complete request, calls the handler, writes the answer
without blocking, and goes on with the next request on the same connection while its bytes are
already there (pipelined, or arrived while this one was answered): no trip through the selector
thread. When nothing more is there it arms the poller for the next bytes itself; an answer the
socket could not take whole is left to the selector thread to finish. A handler that returns a
Deferred parks the connection and frees the worker; the Deferred's resolution brings it back.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Callable

from shared.http.errors import ProtocolError
from shared.http.messages import Request, Response
from shared.http.request_parser import END_OF_STREAM, NEED_DATA

from .clients import ClientTable
from .connection import WRITE_PENDING, After, Connection, State
from .deferred import Deferred
from .errors import ShuttingDown, TooManyRequests
from .exchange import Encoder, ErrorResponse, Handler, LAST_RESORT, call_handler, error_answer
from .reactor import Reactor
from .worker_pool import WorkerPool

log = logging.getLogger("servidor.net")

# Requests one worker answers on one connection before queueing the rest behind other
# connections' work, so a client pipelining without pause cannot keep a worker to itself and a
# request from someone else waits behind a few answers per busy connection, not dozens.
MAX_IN_A_ROW = 4


class Responder:
    """Runs as worker jobs: `serve` for a parsed request; `stop` and `abandon_parked` at shutdown."""

    def __init__(
        self,
        handler: Handler,
        *,
        inline_handler: Callable[[Request], Response | Deferred | None] | None = None,
        error_response: ErrorResponse,
        encoder: Encoder,
        clients: ClientTable,
        pool: WorkerPool,
        reactor: Reactor,
    ) -> None:
        self._handler = handler
        self._inline_handler = inline_handler
        self._error_response = error_response
        self._encoder = encoder
        self._clients = clients
        self._pool = pool
        self._reactor = reactor
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

    def shutting_down(self) -> Response:
        return error_answer(self._error_response, ShuttingDown("O servidor está sendo encerrado", 5))

    def abandon_parked(self) -> list[Connection]:
        """Take every parked connection away; a later resolve finds nothing to answer."""
        with self._lock:
            parked = list(self._parked)
            self._parked.clear()
        return parked

    # -- worker jobs ----------------------------------------------------------------------

    def serve(self, conn: Connection, request: Request | None, counted: bool = False) -> None:
        """Answer `request`, then the requests behind it whose bytes are already here
        (`counted`: the first one was already counted against its client's request rate)."""
        try:
            in_a_row = 0
            while request is not None:
                if in_a_row == MAX_IN_A_ROW:
                    if not self._pool.submit(self.serve, conn, request):
                        self._reactor.close_later(conn)
                    return
                in_a_row += 1
                started = time.monotonic()
                if counted:
                    counted = False
                    result = call_handler(self._handler, request, self._error_response)
                else:
                    result = self._answer(conn, request)
                if isinstance(result, Deferred):
                    self._park(conn, request, result, started)
                    return
                request = self._write(conn, request, result, started)
        except Exception:
            log.exception("falha inesperada ao atender %r", conn)
            if conn.state is State.BUSY:
                self._reactor.close_later(conn)

    def serve_inline(self, conn: Connection, request: Request) -> None:
        """The selector thread: answer `request` without a worker if the app can without waiting
        (`inline_handler` gives a Response, or a Deferred it resolves later); else a worker does."""
        started = time.monotonic()
        retry = self._clients.take_request(conn.client)
        if retry:
            result: Response | Deferred | None = error_answer(self._error_response, TooManyRequests(
                "requisições demais deste endereço; aguarde o tempo indicado em Retry-After", retry))
        else:
            try:
                result = self._inline_handler(request)
            except Exception:
                log.exception("falha ao atender %s %s na thread do seletor", request.method, request.target)
                result = None
        if result is None:
            if not self._pool.submit(self.serve, conn, request, True):
                self._reactor.close(conn)
            return
        if isinstance(result, Deferred):
            conn.inline = True
            self._park(conn, request, result, started)
            return
        self._answer_inline(conn, request, result, started)

    def _answer_inline(self, conn: Connection, request: Request, response: Response, started: float) -> None:
        conn.inline = False
        following = self._write(conn, request, response, started)
        if following is not None:
            self._reactor.dispatch(conn, following)

    def _answer(self, conn: Connection, request: Request) -> Response | Deferred:
        retry = self._clients.take_request(conn.client)
        if retry:
            return error_answer(self._error_response, TooManyRequests(
                "requisições demais deste endereço; aguarde o tempo indicado em Retry-After", retry))
        return call_handler(self._handler, request, self._error_response)

    # -- one exchange ---------------------------------------------------------------------

    def _write(self, conn: Connection, request: Request, response: Response, started: float) -> Request | None:
        """Send the response; the next request ready on this connection, or None once the
        connection is given back (to read, to finish writing, to linger or to close)."""
        keep_alive = request.keep_alive and not response.close and not self._stopping
        try:
            data = self._encoder.encode(response, request, keep_alive=keep_alive)
        except Exception:
            log.exception("não foi possível serializar a resposta a %s %s", request.method, request.target)
            response = LAST_RESORT
            data = self._encoder.encode(response, request, keep_alive=keep_alive)
        # Counted before the write so that a client holding the response always sees it counted;
        # a peer that leaves mid-write still got an answer from the app.
        with self._lock:
            self._served += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s %d %.1fms", conn.peer[0], request.method, request.path,
                      int(response.status), (time.monotonic() - started) * 1000)
        reactor = self._reactor
        try:
            sent = conn.send(data)
        except OSError as exc:
            # A meter that hangs up mid-response is routine (the 004 closes right after sending).
            log.debug("peer %s went away mid-write: %s", conn.peer, exc)
            reactor.close_later(conn)
            return None
        if not sent:
            conn.after = After.READ if keep_alive else After.LINGER
            reactor.await_write(conn)
            return None
        if not keep_alive:
            reactor.linger(conn)
            return None
        conn.idle_since = time.monotonic()
        return self._next_request(conn)

    def _next_request(self, conn: Connection) -> Request | None:
        """RFC 9112 §9.3.2: pipelined requests are answered in order, by this same thread."""
        reactor = self._reactor
        try:
            event = conn.pump()
            if event is NEED_DATA and threading.current_thread() is not reactor.thread:
                # The next request may already be in the socket: read it now rather than arm
                # the poller and wait for the selector thread to notice it (which, answering
                # here itself, will poll for it next anyway).
                data = conn.recv()
                if data is not None:
                    conn.feed(data)
                    event = conn.pump()
            reactor.recharge(conn, event)
        except ProtocolError as exc:
            reactor.refuse(conn, exc)
            return None
        except OSError as exc:
            log.debug("reading from %s failed: %s", conn.peer, exc)
            reactor.close_later(conn)
            return None
        if isinstance(event, Request):
            return event
        if event is END_OF_STREAM:
            reactor.close_later(conn)
        elif event is WRITE_PENDING:
            reactor.await_write(conn)
        elif self._stopping:
            reactor.close_later(conn)
        else:
            reactor.await_read(conn, time.monotonic())
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
            deferred.resolve(self.shutting_down())

    def _resume(self, conn: Connection, request: Request, started: float, response: Response) -> None:
        """Deferred callback, in whatever thread resolved it: queue the write of the answer."""
        with self._lock:
            if conn not in self._parked:
                return                     # abandoned at shutdown; the socket is closed
            self._parked.discard(conn)
        conn.deferred = None
        conn.state = State.BUSY
        if conn.inline:
            if threading.current_thread() is self._reactor.thread:   # a group handed to this thread
                self._answer_inline(conn, request, response, started)
                return
            if self._reactor.call_soon(self._answer_inline, conn, request, response, started):
                return
        conn.inline = False
        if not self._pool.submit(self._finish_parked, conn, request, response, started):
            self._reactor.close_later(conn)

    def _finish_parked(self, conn: Connection, request: Request, response: Response, started: float) -> None:
        try:
            next_request = self._write(conn, request, response, started)
        except Exception:
            log.exception("falha inesperada ao responder um pedido em espera em %r", conn)
            if conn.state is State.BUSY:
                self._reactor.close_later(conn)
            return
        self.serve(conn, next_request)
