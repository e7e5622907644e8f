"""The node's control port: a TCP listener speaking shared/node_protocol.py.

One thread (owned here: `start`, then `stop` joins it) multiplexes every connection with a
selector. Commands are answered from memory by `handler` (medidor/node_commands.py), so the
thread never waits on a device or on the server.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import selectors
import socket
import threading
import time
from typing import Callable

from shared.node_protocol import (AUTH, AUTH_FAIL, AUTH_OK, Command, LineReader, ProtocolError, encode_answer,
                                  parse_command)

log = logging.getLogger("medidor.controle")

# Connections open at once: a shell, the terminal app and a supervisor need a handful; more is
# a port scan or a client leaking connections, refused so the node's memory stays bounded.
MAX_CLIENTS = 32
# A connection that sends nothing for this long is closed (a shell left open overnight).
IDLE_S = 600.0
# Bytes an unread answer may pile up before the client is dropped: a client that sends but
# never reads (GETVARS in a loop) must not grow the node's memory.
MAX_PENDING_OUT = 1 << 20
# The selector wakes at least this often to notice `stop` and idle connections.
TICK_S = 0.25

Handler = Callable[[Command], list[str]]


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


class _Client:
    __slots__ = ("sock", "peer", "reader", "out", "authorized", "seen", "closing")

    def __init__(self, sock: socket.socket, peer: str, authorized: bool) -> None:
        self.sock = sock
        self.peer = peer
        self.reader = LineReader()
        self.out = bytearray()
        self.authorized = authorized
        self.seen = time.monotonic()
        self.closing = False


class ControlServer:
    """`ControlServer(host, port, handler, key=...)`; `start()` binds (OSError if it cannot) and
    serves on its own thread; `address` is the bound (host, port); `stop()` closes and joins."""

    def __init__(self, host: str, port: int, handler: Handler, *, key: str | None = None) -> None:
        if not is_loopback(host) and not key:
            raise ValueError("uma porta de controle fora do loopback precisa de chave (--chave-controle)")
        self._host = host
        self._port = port
        self._handler = handler
        self._key = key
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._clients: dict[int, _Client] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.address: tuple[str, int] = (host, port)

    def start(self) -> "ControlServer":
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        listener = socket.create_server((self._host, self._port), family=family, backlog=MAX_CLIENTS)
        listener.setblocking(False)
        self._listener = listener
        self.address = listener.getsockname()[:2]
        self._selector.register(listener, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._serve, name="medidor-controle", daemon=True)
        self._thread.start()
        log.info("porta de controle em %s:%d", *self.address)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # -- the loop ------------------------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                for key, events in self._selector.select(TICK_S):
                    if key.fileobj is self._listener:
                        self._accept()
                        continue
                    client = self._clients.get(key.fd)
                    if client is None:
                        continue
                    if events & selectors.EVENT_READ:
                        self._read(client)
                    if events & selectors.EVENT_WRITE and client.sock.fileno() >= 0:
                        self._flush(client)
                self._drop_idle()
        finally:
            for client in list(self._clients.values()):
                self._close(client)
            if self._listener is not None:
                self._selector.unregister(self._listener)
                self._listener.close()
            self._selector.close()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            sock, peer = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # EMFILE and friends: the client is refused, the port lives on
            log.warning("porta de controle: conexão recusada: %s", exc)
            time.sleep(TICK_S)
            return
        if len(self._clients) >= MAX_CLIENTS:
            sock.close()
            return
        sock.setblocking(False)
        client = _Client(sock, f"{peer[0]}:{peer[1]}", is_loopback(peer[0]))
        self._clients[sock.fileno()] = client
        self._selector.register(sock, selectors.EVENT_READ)

    def _read(self, client: _Client) -> None:
        try:
            data = client.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(client)
            return
        if not data:
            self._close(client)
            return
        client.seen = time.monotonic()
        try:
            lines = client.reader.feed(data)
        except ProtocolError as exc:
            log.info("porta de controle: %s fora do protocolo (%s); conexão fechada", client.peer, exc)
            self._close(client)
            return
        for line in lines:
            if client.closing:
                break
            self._answer(client, line)
        self._flush(client)

    def _answer(self, client: _Client, line: str) -> None:
        command = parse_command(line)
        if command is None:
            return
        if command.verb == AUTH:
            good = bool(self._key) and hmac.compare_digest((command.target or "").encode(), self._key.encode())
            if good or client.authorized and not self._key:
                client.authorized = True
                client.out += encode_answer(command, [AUTH_OK])
            else:
                log.warning("porta de controle: chave errada de %s", client.peer)
                client.out += encode_answer(command, [AUTH_FAIL])
                client.closing = True
            return
        if not client.authorized:
            log.warning("porta de controle: %s sem chave (AUTH <chave> primeiro)", client.peer)
            client.out += encode_answer(command, [AUTH_FAIL + "\tenvie AUTH <chave> primeiro"])
            client.closing = True
            return
        if command.verb == "QUIT":
            client.closing = True
            return
        try:
            lines = self._handler(command)
        except Exception as exc:  # a bug answering one command must not take the port down
            log.exception("porta de controle: erro ao responder %s", command.verb)
            lines = [f"SRV_ERR {exc.__class__.__name__}: {exc}"]
        client.out += encode_answer(command, lines)
        if len(client.out) > MAX_PENDING_OUT:
            log.warning("porta de controle: %s não lê as respostas; conexão fechada", client.peer)
            self._close(client)

    def _flush(self, client: _Client) -> None:
        if client.sock.fileno() < 0:
            return
        while client.out:
            try:
                sent = client.sock.send(client.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._close(client)
                return
            del client.out[:sent]
        if client.out:
            self._selector.modify(client.sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        elif client.closing:
            self._close(client)
        else:
            self._selector.modify(client.sock, selectors.EVENT_READ)

    def _drop_idle(self) -> None:
        limit = time.monotonic() - IDLE_S
        for client in [c for c in self._clients.values() if c.seen < limit]:
            self._close(client)

    def _close(self, client: _Client) -> None:
        fd = client.sock.fileno()
        if fd >= 0:
            self._clients.pop(fd, None)
            try:
                self._selector.unregister(client.sock)
            except (KeyError, ValueError):
                pass
            client.sock.close()
