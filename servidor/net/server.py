"""The HTTP/1.1 server: one selector thread for every waiting socket, a worker pool for requests.

The selector thread (reactor.py) owns the listening socket and every connection that is idle,
still arriving, finishing a write or lingering: it accepts (acceptor.py), reads without
blocking and feeds each connection's RequestParser. Only a connection holding a COMPLETE
request goes to a worker (responder.py), so idle keep-alive clients, slow senders and clients
that stop reading cost a file descriptor and their buffered bytes, never a thread. A request the
app can answer without waiting (`inline`: an agent's reading, answered by a Deferred once it is
on disk) is handled by the selector thread itself: no hand-off between threads on the hot path,
which measured about 0.7-0.8x the CPU per request of going through a worker (bench/RESULTS.md). Those bytes
are bounded by a memory budget (budget.py) and every client address by its share of
connections and requests (clients.py).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from shared.http.limits import DEFAULT_LIMITS, Limits
from shared.http.messages import Headers, Request, Response

from .budget import MemoryBudget, return_freed_memory_promptly
from .clients import ClientTable
from .deferred import Deferred
from .exchange import Encoder, ErrorResponse, Handler, plain_error_response
from .health import HEALTH_HOLD_S, Health
from .limits import DEFAULT_SERVER_LIMITS, ServerLimits
from .reactor import Reactor
from .responder import Responder
from .worker_pool import WorkerPool

log = logging.getLogger("servidor.net")

# The app's answer in the selector thread, or None for "run it in a worker" (see HttpServer).
InlineHandler = Callable[[Request], "Response | Deferred | None"]

# Pending connections the kernel queues before accept(). Meters reconnect in a burst when the
# server restarts; 1024 absorbs a fleet of them (Linux silently caps it at net.core.somaxconn).
BACKLOG = 1024
# The pool may need a moment to join idle workers even when the in-flight wait used the whole
# shutdown budget.
POOL_JOIN_GRACE = 1.0


class HttpServer:
    """A threaded HTTP/1.1 server calling `handler(request)` for every complete request.

    The handler returns a Response, or a Deferred to answer later (long poll). Everything the
    server answers itself (protocol errors, 408, 429, 503) and whatever a handler raises goes
    to `error_response(exc)`, which builds the answer (servidor's is servidor.api.envelope);
    a 5xx from it for a handler's exception is logged with the traceback. `body_until_close`
    tells the parser which bodyless-framed requests run until EOF (the legacy 004 meter).

    `inline` = (worth_trying(request), inline_handler(request)): requests the app can answer
    without waiting (a Response now, or a Deferred it resolves from another thread, as the
    ingest does once the reading is on disk) are handled in the selector thread itself, with no
    hand-off to a worker: the handler returns None to have a worker run `handler` instead.
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limits: Limits = DEFAULT_LIMITS,
        server_limits: ServerLimits = DEFAULT_SERVER_LIMITS,
        workers: int = 16,
        body_until_close: Callable[[str, str], bool] | None = None,
        server_name: str = "monitor-energia",
        default_headers: Headers = (),
        error_response: ErrorResponse = plain_error_response,
        health_hold: float = HEALTH_HOLD_S,
        inline: tuple[Callable[[Request], bool], InlineHandler] | None = None,
    ) -> None:
        self._host = host
        self._port = port
        # Added to every response that does not set them itself, errors included (e.g. CORS).
        encoder = Encoder((("server", server_name),) + tuple(default_headers))
        self._health = Health(health_hold)
        self._budget = MemoryBudget(server_limits)
        clients = ClientTable(server_limits)
        self._pool = WorkerPool(workers, name="servidor-net-worker")
        self._reactor = Reactor(
            limits=limits, server_limits=server_limits, body_until_close=body_until_close,
            pool=self._pool, clients=clients, budget=self._budget, health=self._health,
            encoder=encoder, error_response=error_response,
        )
        self._responder = Responder(handler, error_response=error_response, encoder=encoder,
                                    clients=clients, pool=self._pool, reactor=self._reactor,
                                    inline_handler=inline[1] if inline else None)
        self._reactor.serve = self._responder.serve
        if inline is not None:
            self._reactor.inline, self._reactor.serve_inline = inline[0], self._responder.serve_inline
        self._lock = threading.Lock()
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
        """Client connections held now: idle, reading, busy, writing, parked or lingering."""
        return len(self._reactor.conns)

    @property
    def requests_served(self) -> int:
        return self._responder.served

    @property
    def body_bytes_held(self) -> int:
        """Request bytes charged against the memory budget right now."""
        return self._budget.held

    def call_soon(self, fn: Callable[..., None], *args: object) -> bool:
        """Run `fn(*args)` in the selector thread, which answers inline requests; False (not
        run) once that thread has finished."""
        return self._reactor.call_soon(fn, *args)

    def after_each_round(self, fn: Callable[[], None]) -> None:
        """Call `fn()` in the selector thread after each round of events it handled, before it
        waits for the next (set before `start`)."""
        self._reactor.after_round.append(fn)

    def health(self) -> tuple[bool, str | None]:
        """(True, None), or (False, why clients are being refused now), in pt-BR.

        Reports running out of file descriptors and a full connection table, for as long as
        they last and `health_hold` seconds more; it clears by itself once they pass.
        """
        return self._health.report()

    def start(self) -> None:
        """Bind, listen and start the selector thread and the workers.

        An address in use raises OSError unchanged so the CLI can say so.
        """
        with self._lock:
            if self._thread is not None or self._shut_down:
                raise RuntimeError("an HttpServer starts once")
            try:
                self._address = self._reactor.open(self._host, self._port, BACKLOG)
            except BaseException:
                self._shut_down = True
                self._reactor.close_unstarted()
                raise
            return_freed_memory_promptly()
            self._pool.start()
            self._thread = threading.Thread(target=self._reactor.run, name="servidor-net-selector", daemon=True)
            self._reactor.thread = self._thread
            self._thread.start()
        log.info("ouvindo em %s:%d", *self._address)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop accepting, finish in-flight responses, close the rest, join every thread.

        Idle and half-read connections are closed at once; parked long polls are answered 503
        (unless the app resolves them first); requests already in a handler, and answers still
        being written, get up to `timeout` seconds. Idempotent. Call it from outside the
        handler: a handler that calls it waits out `timeout` for its own unfinished request.
        """
        with self._lock:
            started, already = self._thread is not None, self._shut_down
            self._shut_down = True
        if already:
            return
        if not started:
            self._reactor.close_unstarted()
            return
        deadline = time.monotonic() + timeout
        parked = self._responder.stop()
        self._reactor.begin_stop(deadline)
        for deferred in parked:
            # First resolve wins: if the app answered a moment ago, its response goes out instead.
            deferred.resolve(self._responder.shutting_down())
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.warning("a thread do seletor ainda roda depois de %.1f s", timeout)
        # Their sockets were closed with the selector; a late resolve must find nothing to answer.
        self._responder.abandon_parked()
        self._pool.shutdown(max(POOL_JOIN_GRACE, deadline - time.monotonic()))
        log.info("servidor em %s:%d parado", *self._address)

    def __enter__(self) -> "HttpServer":
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
