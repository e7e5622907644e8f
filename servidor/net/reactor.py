"""The selector thread: every socket that is waiting (to be accepted, read, written, drained).

It accepts, reads without blocking, feeds each connection's RequestParser, answers protocol
errors itself and hands a connection holding a COMPLETE request to a worker (or answers it
itself when the app can without waiting, see `dispatch`; `call_soon` brings the answers the
app resolves later back to this thread); it sends the rest
of responses that did not fit in the socket as the client takes them, and enforces deadlines.
Workers give connections back by arming the poller themselves (keep reading, write the rest,
linger) or, to close one, through a queue and a wakeup socket, so that only this thread ever
removes a connection.
"""
from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from typing import Callable

from shared.http.errors import ProtocolError, RequestTimeout
from shared.http.limits import Limits
from shared.http.messages import Request
from shared.http.request_parser import END_OF_STREAM

from .acceptor import Acceptor
from .budget import MemoryBudget
from .clients import Client, ClientTable
from .connection import WRITE_PENDING, After, Connection, State
from .exchange import Encoder, ErrorResponse, error_answer
from .handback import Handback
from .health import Health
from .limits import ServerLimits
from .poller import READ, WRITE, Poller, Waker, make_poller
from .worker_pool import WorkerPool

log = logging.getLogger("servidor.net")

# How often the selector checks deadlines: timeouts fire at most this late. A sweep over
# 10,000 connections is ~1 ms of work, so twice a second costs nothing measurable.
SWEEP_INTERVAL = 0.5
# While stopping, how often to look for connections that went idle since the last look.
STOP_POLL = 0.05
# Forget departed clients every this many sweeps (the table scan takes a lock workers use).
CLIENT_SWEEP_EVERY = 10

_LISTENER = object()
_WAKEUP = object()


class Reactor(Handback):
    """Owned by HttpServer: `open` binds, `run` is the selector thread's body, `stop` ends it.

    `serve(conn, request)` is the worker job for a complete request (set before `run`).
    """

    def __init__(
        self,
        *,
        limits: Limits,
        server_limits: ServerLimits,
        body_until_close: Callable[[str, str], bool] | None,
        pool: WorkerPool,
        clients: ClientTable,
        budget: MemoryBudget,
        health: Health,
        encoder: Encoder,
        error_response: ErrorResponse,
    ) -> None:
        self._limits = limits
        self._server_limits = server_limits
        self._body_until_close = body_until_close
        self._pool = pool
        self._clients = clients
        self._budget = budget
        self._health = health
        self._encoder = encoder
        self._error_response = error_response
        self.serve: Callable[[Connection, Request], None] | None = None
        # `inline(request)`: worth answering in this thread; `serve_inline` does it (set before run).
        self.inline: Callable[[Request], bool] | None = None
        self.serve_inline: Callable[[Connection, Request], None] | None = None
        self._soon: collections.deque[tuple[Callable[..., None], tuple]] = collections.deque()
        self.thread: threading.Thread | None = None    # the selector thread, once started
        # Run after each round of events, before waiting again (set before run).
        self.after_round: list[Callable[[], None]] = []

        self._lock = threading.Lock()      # guards the close queue and the flags below
        self._closing: collections.deque[Connection] = collections.deque()
        self._done = False
        self.stopping = False
        self._stop_deadline = 0.0

        # Owned by the selector thread once started.
        self.conns: set[Connection] = set()
        self._waker: Waker | None = None
        self._poller: Poller | None = None
        self._acceptor: Acceptor | None = None
        self._sweeps = 0

    def open(self, host: str, port: int, backlog: int) -> tuple[str, int]:
        """Bind and listen; the address bound. Raises OSError (an address in use) unchanged."""
        # create_server sets SO_REUSEADDR on POSIX (a restart must not wait out TIME_WAIT), and
        # deliberately not on Windows, where it would let another process steal the port.
        self._waker = Waker()
        self._poller = make_poller(self.wake)
        listener = socket.create_server((host, port), backlog=backlog)
        listener.setblocking(False)
        self._acceptor = Acceptor(
            listener, self._poller, self._server_limits, self._clients, self._health,
            open_connections=lambda: len(self.conns), admit=self._admit, refusal=self._refusal,
        )
        self._acceptor.listener_tag = _LISTENER
        self._poller.add_permanent(listener, _LISTENER)
        self._poller.add_permanent(self._waker.reader, _WAKEUP)
        return tuple(listener.getsockname()[:2])

    def close_unstarted(self) -> None:
        """Release everything `__init__`/`open` took when the thread will never run."""
        if self._acceptor is not None:
            self._acceptor.close()
        for closeable in (self._poller, self._waker):
            if closeable is not None:
                closeable.close()

    # -- the selector thread ----------------------------------------------------------------

    def run(self) -> None:
        next_sweep = time.monotonic() + SWEEP_INTERVAL
        stop_begun = False
        try:
            while True:
                timeout = STOP_POLL if self.stopping else max(0.0, next_sweep - time.monotonic())
                for obj, bits in self._poller.poll(timeout):
                    if obj is _LISTENER:
                        self._acceptor.accept()
                    elif obj is _WAKEUP:
                        self._waker.drain()
                    else:
                        self._on_event(obj, bits)
                if self._soon:
                    self._run_soon()
                for hook in self.after_round:
                    try:
                        hook()
                    except Exception:
                        log.exception("tarefa do fim da rodada do seletor falhou")
                self._take_closing()
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + SWEEP_INTERVAL
                if self.stopping:
                    if not stop_begun:
                        stop_begun = True
                        self._acceptor.close()
                    self._close_waiting()
                    if not self.conns or now >= self._stop_deadline:
                        break
        except Exception:
            log.exception("a thread do seletor falhou; fechando todas as conexões")
        finally:
            self._finish()

    def begin_stop(self, deadline: float) -> None:
        """From shutdown(): stop accepting; close what waits; give the rest until `deadline`."""
        self._stop_deadline = deadline
        self.stopping = True
        self.wake()

    def _admit(self, sock: socket.socket, peer: tuple, client: Client) -> None:
        conn = Connection(sock, peer, client, self._limits, self._body_until_close)
        self.conns.add(conn)
        conn.idle_since = time.monotonic()
        conn.deadline = conn.idle_since + self._limits.idle_timeout
        self._poller.add(sock, conn, READ)

    def _refusal(self, error: ProtocolError) -> bytes:
        return self._encoder.encode(error_answer(self._error_response, error), None, keep_alive=False)

    def _on_event(self, conn: Connection, bits: int) -> None:
        # One broken connection must never take the selector (and every client) down.
        try:
            state = conn.state
            if state is State.READING:
                self._on_readable(conn)
            elif state is State.WRITING:
                self._on_writable(conn)
            elif state is State.LINGERING:
                if conn.drain():
                    self.close(conn)
                else:
                    self._poller.arm(conn.sock, conn, READ)
        except Exception:
            log.exception("erro em %r; fechando a conexão", conn)
            self.close(conn)

    def _on_readable(self, conn: Connection) -> None:
        try:
            data = conn.recv()
        except OSError as exc:
            log.debug("read from %s failed: %s", conn.peer, exc)
            self.close(conn)
            return
        if data is None:
            self._poller.arm(conn.sock, conn, READ)
            return
        try:
            conn.feed(data)
        except ProtocolError as exc:
            self.refuse(conn, exc)
            return
        self.advance(conn)

    def advance(self, conn: Connection) -> None:
        """Act on what the parser holds: dispatch a request, close, or wait for more."""
        try:
            event = conn.pump()
            self.recharge(conn, event)
        except ProtocolError as exc:
            self.refuse(conn, exc)
            return
        except OSError as exc:
            log.debug("writing 100 Continue to %s failed: %s", conn.peer, exc)
            self.close(conn)
            return
        if isinstance(event, Request):
            self.dispatch(conn, event)
        elif event is END_OF_STREAM:
            self.close(conn)
        elif event is WRITE_PENDING:
            self.await_write(conn)
        else:
            self.await_read(conn, time.monotonic())

    def dispatch(self, conn: Connection, request: Request) -> None:
        """A complete request (selector thread): answered here if the app can without waiting
        (`inline`), else queued for a worker."""
        conn.state = State.BUSY
        conn.request_started = None
        if self.inline is not None and self.inline(request):
            self.serve_inline(conn, request)
        elif not self._pool.submit(self.serve, conn, request):
            self.close(conn)

    def call_soon(self, fn: Callable[..., None], *args: object) -> bool:
        """Run `fn(*args)` in the selector thread; False once it has finished."""
        with self._lock:
            if self._done:
                return False
            self._soon.append((fn, args))
            first = len(self._soon) == 1
        if first:
            self.wake()
        return True

    def _run_soon(self) -> None:
        with self._lock:
            jobs, self._soon = self._soon, collections.deque()
        for fn, args in jobs:
            try:
                fn(*args)
            except Exception:
                log.exception("tarefa da thread do seletor falhou")

    def recharge(self, conn: Connection, event: object = None) -> None:
        """Bring the connection's memory charge up to date; MemoryBudgetExceeded if refused.

        A request just parsed keeps its body charged until its answer is written."""
        held = conn.parser.committed()
        if event.__class__ is Request:
            held += len(event.body)
        if held != conn.charge:
            conn.charge = self._budget.charge(conn.client, conn.charge, held)

    def _on_writable(self, conn: Connection) -> None:
        try:
            done = conn.flush()
        except OSError as exc:
            log.debug("peer %s went away mid-write: %s", conn.peer, exc)
            self.close(conn)
            return
        if not done:
            self._poller.arm(conn.sock, conn, WRITE)
        elif conn.after is After.LINGER:
            self.linger(conn)
        elif conn.after is After.CLOSE:
            self.close(conn)
        else:
            self.advance(conn)

    def wake(self) -> None:
        if self._waker is not None:
            self._waker.wake()

    # -- selector-thread housekeeping -------------------------------------------------------

    def _take_closing(self) -> None:
        while True:
            with self._lock:
                if not self._closing:
                    return
                conn = self._closing.popleft()
            self.close(conn)

    def _sweep(self, now: float) -> None:
        self._acceptor.tick(now, self.stopping)
        self._sweeps += 1
        if self._sweeps % CLIENT_SWEEP_EVERY == 0:
            self._clients.sweep()
        for conn in [c for c in self.conns if c.deadline <= now]:
            state = conn.state
            if state is State.LINGERING:
                self.close(conn)
            elif state is State.WRITING:
                log.debug("%s took no response for %.0f s: closing", conn.peer, self._server_limits.write_timeout)
                self.close(conn)
            elif state is State.READING:
                if conn.request_pending:
                    self._poller.disarm(conn.sock)
                    self.refuse(conn, RequestTimeout("A requisição não foi concluída a tempo"))
                else:
                    # Idle keep-alive: RFC 9112 §9.8 lets either side close at any time;
                    # no response is owed because no request was started.
                    self.close(conn)

    def _close_waiting(self) -> None:
        """While stopping: close what waits for a request; lingering ones drop what came."""
        for conn in [c for c in self.conns if c.state in (State.READING, State.LINGERING)]:
            if conn.state is State.LINGERING:
                conn.discard_pending()
            self.close(conn)

    def close(self, conn: Connection) -> None:
        """Forget and close a connection (selector thread only)."""
        if conn not in self.conns:
            conn.close()
            return
        self.conns.discard(conn)
        self._poller.remove(conn.sock)
        if conn.charge:
            conn.charge = self._budget.charge(conn.client, conn.charge, 0)
        self._clients.release(conn.client)
        conn.close()

    def _finish(self) -> None:
        """Selector exit: from now on workers close what they give back themselves."""
        with self._lock:
            self._done = True
            closing = list(self._closing)
            self._closing.clear()
            # Answers resolved for the selector thread that it will not write now.
            closing += [args[0] for _, args in self._soon]
            self._soon.clear()
        for conn in closing:
            self.close(conn)
        for conn in list(self.conns):
            if conn.state is State.BUSY:
                # Its worker still holds the socket; closing it here could let the descriptor
                # be reused under that worker. Shutting it down makes its write fail fast, and
                # its next arm fails on the closed poller, so the worker closes it.
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.conns.discard(conn)
            else:
                self.close(conn)
        if self._acceptor is not None:
            self._acceptor.close()
        self._poller.close()
        self._waker.close()
