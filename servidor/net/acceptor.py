"""Taking new connections off the listening socket, for the selector thread.

Every connection the server cannot take is answered at once and closed, never left to hang in
the kernel's queue: over the connection table, 503; over one client's connection limit, 429;
out of file descriptors (EMFILE/ENFILE), 503 too, through a descriptor held in reserve for
exactly that moment (the libev/nginx habit): closing it makes room to accept one connection,
refuse it, and take the reserve back.
"""
from __future__ import annotations

import errno
import logging
import os
import socket
import time
from typing import Callable

from shared.http.errors import ProtocolError

from .clients import Client, ClientTable
from .connection import RECV_BYTES, SEND_BUFFER
from .errors import Overloaded, OutOfDescriptors, TooManyConnections
from .health import Health
from .limits import ServerLimits
from .poller import Poller

log = logging.getLogger("servidor.net")

# accept() calls per readiness event, so a burst of new clients cannot starve reads.
ACCEPT_BATCH = 64
# Pause after accept() fails for lack of kernel memory, or of descriptors with no reserve left:
# the listening socket stays readable, and retrying at once would spin the selector thread.
ACCEPT_BACKOFF = 0.5
# recv() calls spent discarding what a refused client already sent before closing, so the
# kernel sends FIN rather than RST (which can destroy the answer before the client reads it).
REJECT_DRAIN_READS = 16
# Refusals are logged at most this often, with how many there were since the last line.
REFUSAL_LOG_INTERVAL = 1.0
# What a refused client is told to wait: connections free up within seconds normally.
RETRY_AFTER_S = 1

OUT_OF_DESCRIPTORS = "descritores de arquivo esgotados: novas conexões recebem 503"
_DESCRIPTOR_ERRNOS = (errno.EMFILE, errno.ENFILE)
_MEMORY_ERRNOS = (errno.ENOBUFS, errno.ENOMEM)


def _open_reserve() -> int | None:
    try:
        return os.open(os.devnull, os.O_RDONLY)
    except OSError:
        return None


class Acceptor:
    """Accepts for the selector thread; `admit(sock, peer, client)` takes each connection kept."""

    def __init__(
        self,
        listener: socket.socket,
        poller: Poller,
        limits: ServerLimits,
        clients: ClientTable,
        health: Health,
        *,
        open_connections: Callable[[], int],
        admit: Callable[[socket.socket, tuple, Client], None],
        refusal: Callable[[ProtocolError], bytes],
    ) -> None:
        self._listener = listener
        self._poller = poller
        self._limits = limits
        self._clients = clients
        self._health = health
        self._open_connections = open_connections
        self._admit = admit
        self._refusal = refusal
        self._reserve = _open_reserve()
        self._paused_until = 0.0
        self._refused = 0
        self._logged_at = -REFUSAL_LOG_INTERVAL
        self.listener_tag: object = None

    def accept(self) -> None:
        """Take up to ACCEPT_BATCH pending connections."""
        for _ in range(ACCEPT_BATCH):
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _DESCRIPTOR_ERRNOS:
                    self._health.note(OUT_OF_DESCRIPTORS)
                    if self._shed_one():
                        continue
                    log.warning("accept falhou (%s) sem descritor de reserva; pausa de %.1f s", exc, ACCEPT_BACKOFF)
                    self._pause()
                    return
                if exc.errno in _MEMORY_ERRNOS:
                    log.warning("accept falhou (%s); pausa de %.1f s", exc, ACCEPT_BACKOFF)
                    self._pause()
                    return
                continue                   # ECONNABORTED and friends: that client gave up
            sock.setblocking(False)
            if self._open_connections() >= self._limits.max_connections:
                reason = f"tabela de conexões cheia ({self._limits.max_connections}): novas conexões recebem 503"
                self._health.note(reason)
                self._reject(sock, Overloaded("Conexões demais abertas; tente novamente", RETRY_AFTER_S))
                continue
            client = self._clients.admit(peer)
            if client is None:
                self._reject(sock, TooManyConnections(
                    f"este endereço já tem {self._limits.max_connections_per_client} conexões abertas; "
                    "feche alguma ou tente mais tarde", RETRY_AFTER_S))
                continue
            # Pipelined responses are separate small writes; with Nagle on, each would wait
            # for the ACK of the previous one (40 ms with delayed ACKs).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            self._admit(sock, peer, client)

    def _shed_one(self) -> bool:
        """Out of descriptors: refuse one queued connection with 503 using the reserve."""
        if self._reserve is None:
            self._reserve = _open_reserve()
            return False
        os.close(self._reserve)
        self._reserve = None
        try:
            sock, _ = self._listener.accept()
        except OSError:
            sock = None
        if sock is not None:
            sock.setblocking(False)
            self._reject(sock, OutOfDescriptors(
                "O servidor está sem descritores de arquivo livres; tente novamente", RETRY_AFTER_S))
        self._reserve = _open_reserve()
        return sock is not None

    def _reject(self, sock: socket.socket, error: ProtocolError) -> None:
        """Answer a connection that will not be kept, without blocking, and close it."""
        try:
            # A fresh socket's send buffer is empty, so a small answer is taken whole.
            sock.send(self._refusal(error))
            sock.shutdown(socket.SHUT_WR)
            for _ in range(REJECT_DRAIN_READS):
                if not sock.recv(RECV_BYTES):
                    break
        except OSError:
            pass
        finally:
            sock.close()
        self._refused += 1
        now = time.monotonic()
        if now - self._logged_at >= REFUSAL_LOG_INTERVAL:
            # Under a flood, one line a second says enough; one per connection would be the flood.
            log.warning("%d conexão(ões) recusada(s), a última com %d (%s); %d conexões abertas",
                        self._refused, int(error.status), error.code, self._open_connections())
            self._refused, self._logged_at = 0, now

    def _pause(self) -> None:
        self._poller.remove(self._listener)
        self._paused_until = time.monotonic() + ACCEPT_BACKOFF

    def tick(self, now: float, stopping: bool) -> None:
        """From the selector's sweep: resume a paused accept, take the reserve back if lost."""
        if self._reserve is None:
            self._reserve = _open_reserve()
        if self._paused_until and now >= self._paused_until and not stopping:
            self._paused_until = 0.0
            self._poller.add_permanent(self._listener, self.listener_tag)

    def close(self) -> None:
        """Stop listening (shutdown): nothing is accepted after this. Idempotent."""
        if self._listener.fileno() < 0:
            return
        if not self._paused_until:
            self._poller.remove(self._listener)
        self._paused_until = 0.0
        self._listener.close()
        if self._reserve is not None:
            os.close(self._reserve)
            self._reserve = None
