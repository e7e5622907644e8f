"""The HTTP/1.1 server: one selector thread for every waiting socket, a worker pool for requests.

The selector thread owns the listening socket and every connection that is idle or still
arriving: it accepts, reads without blocking, feeds each connection's RequestParser and
answers `100 Continue`. Only a connection holding a COMPLETE request goes to a worker, so
idle keep-alive clients and slow senders cost a file descriptor, never a thread. The worker
calls the handler, writes the response, answers requests already pipelined behind it (in
order, on the same thread) and hands the connection back through a wakeup socket.
"""
from __future__ import annotations

import collections
import errno
import logging
import selectors
import socket
import threading
import time
from typing import Callable

from shared.http.errors import ProtocolError
from shared.http.limits import DEFAULT_LIMITS, Limits
from shared.http.messages import Headers, Request
from shared.http.request_parser import END_OF_STREAM

from . import exchange
from .connection import LINGER_TIMEOUT, RECV_BYTES, After, Connection, State
from .exchange import Handler
from .responder import Responder
from .worker_pool import WorkerPool

log = logging.getLogger("servidor.net")

# Pending connections the kernel queues before accept(). Meters reconnect in a burst when the
# server restarts; 1024 absorbs a fleet of them (Linux silently caps it at net.core.somaxconn).
BACKLOG = 1024
# Each connection is a file descriptor, and so is each store file and log. 10,000 stays under
# the usual 65,536 hard limit with room to spare; beyond it clients get 503 and retry.
MAX_CONNECTIONS = 10_000
# How often the selector checks deadlines: timeouts fire at most this late. A sweep over
# 10,000 connections is ~1 ms of work, so twice a second costs nothing measurable.
SWEEP_INTERVAL = 0.5
# accept() calls per readiness event, so a burst of new clients cannot starve reads.
ACCEPT_BATCH = 64
# Pause after accept() fails for lack of descriptors (EMFILE): the listening socket stays
# readable, and retrying at once would spin the selector thread at 100% CPU.
ACCEPT_BACKOFF = 0.5
# recv() calls spent discarding what an over-limit client already sent before closing, so the
# kernel sends FIN rather than RST (which can destroy the 503 before the client reads it).
REJECT_DRAIN_READS = 16
# The pool may need a moment to join idle workers even when the in-flight wait used the whole
# shutdown budget.
POOL_JOIN_GRACE = 1.0

# Selector registration tags for the two sockets that are not client connections.
_LISTENER = object()
_WAKEUP = object()


class HttpServer:
    """A threaded HTTP/1.1 server calling `handler(request)` for every complete request.

    The handler returns a Response, or a Deferred to answer later (long poll). Exceptions of
    `error_types` become their JSON error; any other becomes a logged 500. `body_until_close`
    tells the parser which bodyless-framed requests run until EOF (the legacy 004 meter).
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limits: Limits = DEFAULT_LIMITS,
        workers: int = 16,
        body_until_close: Callable[[str, str], bool] | None = None,
        server_name: str = "monitor-energia",
        default_headers: Headers = (),
        error_types: tuple[type[Exception], ...] = (),
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self._host = host
        self._port = port
        self._limits = limits
        self._body_until_close = body_until_close
        # Added to every response that does not set them itself, errors included (e.g. CORS).
        self._default_headers: Headers = (("server", server_name),) + tuple(default_headers)
        self._max_connections = max_connections
        self._pool = WorkerPool(workers, name="servidor-net-worker")
        self._responder = Responder(
            handler, error_types=tuple(error_types), default_headers=self._default_headers,
            pool=self._pool, hand_back=self._hand_back,
        )

        self._lock = threading.Lock()       # guards the hand-back queue and the flags below
        self._returns: collections.deque[tuple[Connection, After]] = collections.deque()
        self._stopping = False
        self._selector_done = False
        self._stop_deadline = 0.0

        # Owned by the selector thread once started.
        self._conns: set[Connection] = set()
        self._listener: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._accept_paused_until = 0.0
        self._address: tuple[str, int] | None = None
        self._thread: threading.Thread | None = None
        self._shut_down = False

    # -- public ---------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound; port 0 asks the kernel for a free one."""
        if self._address is None:
            raise RuntimeError("server not started")
        return self._address

    @property
    def open_connections(self) -> int:
        """Client connections held now: idle, reading, busy, parked or lingering."""
        return len(self._conns)

    @property
    def requests_served(self) -> int:
        return self._responder.served

    def start(self) -> None:
        """Bind, listen and start the selector thread and the workers.

        An address in use raises OSError unchanged so the CLI can say so.
        """
        if self._thread is not None or self._shut_down:
            raise RuntimeError("an HttpServer starts once")
        # create_server sets SO_REUSEADDR on POSIX (a restart must not wait out TIME_WAIT), and
        # deliberately not on Windows, where it would let another process steal the port.
        listener = socket.create_server((self._host, self._port), backlog=BACKLOG)
        try:
            listener.setblocking(False)
            self._address = tuple(listener.getsockname()[:2])
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            self._wake_w.setblocking(False)
            self._selector = selectors.DefaultSelector()
            self._selector.register(listener, selectors.EVENT_READ, _LISTENER)
            self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKEUP)
        except BaseException:
            for sock in (listener, self._wake_r, self._wake_w):
                if sock is not None:
                    sock.close()
            raise
        self._listener = listener
        self._pool.start()
        self._thread = threading.Thread(target=self._run, name="servidor-net-selector", daemon=True)
        self._thread.start()
        log.info("listening on %s:%d", *self._address)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop accepting, finish in-flight responses, close the rest, join every thread.

        Idle and half-read connections are closed at once; parked long polls are answered 503
        (unless the app resolves them first); requests already in a handler get up to
        `timeout` seconds to be answered. Idempotent. Call it from outside the handler: a
        handler that calls it waits out `timeout` for its own unfinished request.
        """
        with self._lock:
            if self._thread is None or self._shut_down:
                self._shut_down = True
                return
            self._shut_down = True
            self._stop_deadline = time.monotonic() + timeout
            self._stopping = True
        parked = self._responder.stop()
        self._wake()
        for deferred in parked:
            # First resolve wins: if the app answered a moment ago, its response goes out instead.
            deferred.resolve(exchange.shutting_down_error())
        self._thread.join(max(0.0, self._stop_deadline - time.monotonic()))
        if self._thread.is_alive():
            log.warning("selector thread still running after %.1f s", timeout)
        self._pool.shutdown(max(POOL_JOIN_GRACE, self._stop_deadline - time.monotonic()))
        log.info("server on %s:%d stopped", *self._address)

    def __enter__(self) -> "HttpServer":
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    # -- selector thread ------------------------------------------------------------------

    def _run(self) -> None:
        next_sweep = time.monotonic() + SWEEP_INTERVAL
        stop_begun = False
        try:
            while True:
                timeout = max(0.0, next_sweep - time.monotonic())
                for key, _ in self._selector.select(timeout):
                    self._on_event(key.data)
                self._take_returns()
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + SWEEP_INTERVAL
                if self._stopping:
                    if not stop_begun:
                        stop_begun = True
                        self._begin_stop()
                    if not self._conns or now >= self._stop_deadline:
                        break
        except Exception:
            log.exception("selector thread failed; closing every connection")
        finally:
            self._finish()

    def _on_event(self, data: object) -> None:
        if data is _LISTENER:
            self._accept()
        elif data is _WAKEUP:
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
        else:
            conn: Connection = data
            # One broken connection must never take the selector (and every client) down.
            try:
                self._on_readable(conn)
            except Exception:
                log.exception("error on %r; closing it", conn)
                self._close(conn)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("accept failed (%s); pausing %.1f s", exc, ACCEPT_BACKOFF)
                    self._selector.unregister(self._listener)
                    self._accept_paused_until = time.monotonic() + ACCEPT_BACKOFF
                    return
                # ECONNABORTED and friends: that client gave up in the queue; take the next.
                continue
            sock.setblocking(False)
            if len(self._conns) >= self._max_connections:
                self._reject(sock)
                continue
            # Pipelined responses are separate small writes; with Nagle on, each would wait
            # for the ACK of the previous one (40 ms with delayed ACKs).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(sock, peer, self._limits, self._body_until_close)
            self._conns.add(conn)
            self._selector.register(sock, selectors.EVENT_READ, conn)
            self._set_read_deadline(conn, time.monotonic())

    def _reject(self, sock: socket.socket) -> None:
        """503 for a connection over MAX_CONNECTIONS, written without blocking, then closed."""
        data = exchange.encode(exchange.overloaded_error(), None, keep_alive=False,
                               default_headers=self._default_headers)
        try:
            # A fresh socket's send buffer is empty, so a small response is taken whole.
            sock.send(data)
            sock.shutdown(socket.SHUT_WR)
            for _ in range(REJECT_DRAIN_READS):
                if not sock.recv(RECV_BYTES):
                    break
        except OSError:
            pass
        finally:
            sock.close()
        log.warning("connection refused with 503: %d connections open", len(self._conns))

    def _on_readable(self, conn: Connection) -> None:
        if conn.state is State.LINGERING:
            if conn.drain():
                self._close(conn)
            return
        try:
            data = conn.recv()
        except OSError as exc:
            log.debug("read from %s failed: %s", conn.peer, exc)
            self._close(conn)
            return
        if data is None:
            return
        try:
            conn.feed(data)
        except ProtocolError as exc:
            self._dispatch(conn, self._responder.write_final, conn, exchange.protocol_error(exc))
            return
        self._advance(conn)

    def _advance(self, conn: Connection) -> None:
        """Act on what the parser now holds: dispatch a request, close, or wait for more."""
        try:
            event = conn.pump()
        except ProtocolError as exc:
            self._dispatch(conn, self._responder.write_final, conn, exchange.protocol_error(exc))
            return
        except OSError as exc:
            log.debug("writing 100 Continue to %s failed: %s", conn.peer, exc)
            self._close(conn)
            return
        if isinstance(event, Request):
            self._dispatch(conn, self._responder.serve, conn, event)
        elif event is END_OF_STREAM:
            self._close(conn)
        else:
            self._set_read_deadline(conn, time.monotonic())

    def _set_read_deadline(self, conn: Connection, now: float) -> None:
        if conn.request_pending:
            # Limits.read_timeout runs from the request's first byte, not from the last one:
            # a client trickling a byte a second (slowloris) must not extend it forever.
            if conn.request_started is None:
                conn.request_started = now
            conn.deadline = conn.request_started + self._limits.read_timeout
        else:
            conn.request_started = None
            conn.deadline = now + self._limits.idle_timeout

    def _dispatch(self, conn: Connection, job: Callable[..., None], *args: object) -> None:
        """Give the connection to a worker; the selector stops watching it until it returns."""
        self._selector.unregister(conn.sock)
        conn.state = State.BUSY
        conn.request_started = None
        if not self._pool.submit(job, *args):
            self._close(conn)

    def _take_returns(self) -> None:
        while True:
            with self._lock:
                if not self._returns:
                    return
                conn, action = self._returns.popleft()
            now = time.monotonic()
            if action is After.CLOSE:
                self._close(conn)
            elif action is After.LINGER:
                if conn.eof:
                    self._close(conn)      # the peer already closed its side: nothing to drain
                    continue
                if self._stopping:
                    # No time to linger during shutdown: drop what has arrived and close.
                    conn.discard_pending()
                    self._close(conn)
                    continue
                conn.state = State.LINGERING
                conn.deadline = now + LINGER_TIMEOUT
                self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            elif self._stopping:
                self._close(conn)          # idle now, and we are closing idle connections
            else:
                conn.state = State.READING
                self._set_read_deadline(conn, now)
                self._selector.register(conn.sock, selectors.EVENT_READ, conn)

    def _sweep(self, now: float) -> None:
        if self._accept_paused_until and now >= self._accept_paused_until and not self._stopping:
            self._accept_paused_until = 0.0
            self._selector.register(self._listener, selectors.EVENT_READ, _LISTENER)
        for conn in [c for c in self._conns if c.deadline <= now]:
            if conn.state is State.LINGERING:
                self._close(conn)
            elif conn.state is State.READING:
                if conn.request_pending:
                    log.debug("request from %s incomplete after %.1f s: 408",
                              conn.peer, self._limits.read_timeout)
                    self._dispatch(conn, self._responder.write_final, conn, exchange.timeout_error())
                else:
                    # Idle keep-alive: RFC 9112 §9.8 lets either side close at any time;
                    # no response is owed because no request was started.
                    self._close(conn)

    def _begin_stop(self) -> None:
        if self._listener is not None:
            if not self._accept_paused_until:
                self._selector.unregister(self._listener)
            self._listener.close()
        for conn in [c for c in self._conns if c.state in (State.READING, State.LINGERING)]:
            if conn.state is State.LINGERING:
                conn.discard_pending()
            self._close(conn)

    def _close(self, conn: Connection) -> None:
        if conn.state in (State.READING, State.LINGERING):
            try:
                self._selector.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
        self._conns.discard(conn)
        conn.close()

    def _finish(self) -> None:
        """Selector exit: from now on workers close what they hand back themselves."""
        with self._lock:
            self._selector_done = True
            returns = list(self._returns)
            self._returns.clear()
        for conn, _ in returns:
            self._close(conn)
        for conn in self._responder.abandon_parked():
            self._close(conn)              # abandoned: its Deferred may still resolve, unheard
        for conn in list(self._conns):
            if conn.state is State.BUSY:
                # Its worker still holds the socket; closing it here could let the descriptor
                # be reused under that worker. Shutting it down makes the write fail fast and
                # the worker then closes it.
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            else:
                self._close(conn)
        self._conns.clear()
        if self._listener is not None:
            self._listener.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, InterruptedError):
            pass                           # the buffer is full: a wakeup is already pending
        except OSError:
            pass                           # the selector has finished and closed the pair

    # -- called by workers ----------------------------------------------------------------

    def _hand_back(self, conn: Connection, action: After) -> None:
        """A worker returns the connection to the selector (read again, linger or close)."""
        if action is not After.CLOSE:
            try:
                conn.make_nonblocking()
                if action is After.LINGER:
                    conn.half_close()
            except OSError:
                action = After.CLOSE
        # Not READING yet: until the selector takes it, a sweep must not act on a stale deadline.
        conn.state = State.RETURNING
        with self._lock:
            if not self._selector_done:
                self._returns.append((conn, action))
                handed = True
            else:
                handed = False
        if handed:
            self._wake()
        else:
            conn.close()
