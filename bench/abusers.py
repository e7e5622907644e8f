"""Connections that mean harm, kept open by one thread: what `bench/soak.py` throws at the server.

Four kinds, in turn: a body announced as 4 MiB of which 64 KiB arrive and then nothing
(memory), a header line fed one byte a second (slowloris), 50 pipelined GETs of the OpenAPI
document from a socket with a tiny receive buffer that is never read (a worker stuck in send),
and an idle keep-alive fed `\\r\\n` every two seconds (idle timeout). They come from 100 loopback
addresses (127.0.0.2 ..), a crowd and not one client; whatever the server closes is opened again.
"""
from __future__ import annotations

import selectors
import socket
import threading
import time
from typing import Callable

KINDS = ("corpo-parado", "slowloris", "nao-le", "espacos")
ADDRESSES = 100
TICK_S = 0.25
STALLED_HEAD = (b"POST /api/v1/medidores/x/leituras HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
                b"Content-Length: 4194304\r\n\r\n" + b"[" * 65536)
PIPELINED = b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: soak\r\n\r\n" * 50


class Abusers:
    def __init__(self, address: Callable[[], tuple[str, int]], count: int) -> None:
        self.address = address
        self.count = count
        self.opened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="abusivas", daemon=True)
        self._sockets: dict[int, tuple[socket.socket, str, float]] = {}   # slot → (socket, kind, next action)
        self._selector = selectors.DefaultSelector()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> int:
        """Close everything; how many connections were opened in all."""
        self._stop.set()
        self._thread.join()
        return self.opened

    def _open(self, slot: int) -> None:
        kind = KINDS[slot % len(KINDS)]
        sock = socket.socket()
        if kind == "nao-le":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(1.0)
        try:
            sock.bind((f"127.0.0.{2 + slot % ADDRESSES}", 0))
            sock.connect(self.address())
            sock.setblocking(False)
            first = {"corpo-parado": STALLED_HEAD, "slowloris": b"GET /api/v1/saude HTTP/1.1\r\nX-Lento: ",
                     "nao-le": PIPELINED, "espacos": b""}[kind]
            try:
                sock.send(first)
            except BlockingIOError:
                pass
        except OSError:
            sock.close()
            return
        self.opened += 1
        self._sockets[slot] = (sock, kind, time.monotonic() + 1.0)
        if kind != "nao-le":
            self._selector.register(sock, selectors.EVENT_READ, slot)

    def _close(self, slot: int) -> None:
        sock, kind, _ = self._sockets.pop(slot)
        if kind != "nao-le":
            self._selector.unregister(sock)
        sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for slot in range(self.count):
                if slot not in self._sockets:
                    self._open(slot)
            for key, _ in self._selector.select(TICK_S):
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:            # the server closed it: come back later
                    self._close(key.data)
            now = time.monotonic()
            for slot, (sock, kind, due) in list(self._sockets.items()):
                if due > now or kind in ("corpo-parado", "nao-le"):
                    continue
                try:
                    sock.send(b"a" if kind == "slowloris" else b"\r\n")
                except BlockingIOError:
                    pass
                except OSError:
                    self._close(slot)
                    continue
                self._sockets[slot] = (sock, kind, now + (1.0 if kind == "slowloris" else 2.0))
        for slot in list(self._sockets):
            self._close(slot)
        self._selector.close()
