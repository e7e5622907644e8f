"""Idle keep-alive connections held open by a separate process, as a fleet of quiet agents.

Each connection is opened and then left alone: no request, so the server holds a descriptor
and a parser for it and must not let it slow the clients that are talking.
"""
from __future__ import annotations

import multiprocessing as mp
import resource
import socket

CONNECT_TIMEOUT_S = 10.0
# Each connection is a descriptor here and in the server; the default soft limit (often 1024)
# is too low for 1,000 of them plus the rest.
WANTED_FILES = 8_192


def raise_file_limit(wanted: int = WANTED_FILES) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards `wanted` (capped by the hard limit).

    Children inherit it, so calling this before starting the server raises the server's too.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def still_open(sock: socket.socket) -> bool:
    """False when the server has closed (or reset) the connection; never blocks."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def _hold(host: str, port: int, count: int, conn: "mp.connection.Connection") -> None:
    raise_file_limit(count + 256)
    socks: list[socket.socket] = []
    error = ""
    try:
        for _ in range(count):
            sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
            sock.setblocking(True)     # MSG_DONTWAIT below must not wait out a socket timeout
            socks.append(sock)
    except OSError as exc:
        error = f"{type(exc).__name__}: {exc}"
    conn.send((len(socks), error))
    while conn.recv() == "count":
        conn.send(sum(still_open(s) for s in socks))
    for s in socks:
        s.close()
    conn.send("closed")


class IdleConnections:
    """`with IdleConnections(host, port, 1000) as idle:` holds them; `idle.open_now()` counts."""

    def __init__(self, host: str, port: int, count: int) -> None:
        self._args = (host, port, count)
        self._pipe, child = mp.get_context("fork").Pipe()
        self._process = mp.get_context("fork").Process(target=_hold, args=(*self._args, child), daemon=True)
        self.opened = 0
        self.error = ""

    def __enter__(self) -> "IdleConnections":
        self._process.start()
        self.opened, self.error = self._pipe.recv()
        return self

    def open_now(self) -> int:
        self._pipe.send("count")
        return self._pipe.recv()

    def __exit__(self, *exc_info: object) -> None:
        self._pipe.send("stop")
        self._pipe.recv()
        self._process.join(10)
