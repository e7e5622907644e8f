"""Memory under unfinished bodies (issue 8 #2): how much the server holds, and whether it gives it back.

`python bench/abuse.py [--rodadas 7] [--conexoes 200]` starts `python -m servidor` with its
default limits, then, each round, opens that many connections from many loopback addresses
(127.0.0.2, .3, ...: a crowd, not one client), each announcing `Content-Length: 4194304` and
sending all of it but the last byte, then stalling. It reads the server's RSS before, at the
peak of each round and after the connections close, and prints a Markdown table; with
`--saida FILE` it also writes it there. Before the memory budget, 300 such connections took the
server from 25 MiB to 1,228 MiB, and 7 rounds of 200 left 3,005 MiB behind.
"""
from __future__ import annotations

import argparse
import errno
import selectors
import socket
import sys
import time
from pathlib import Path
from typing import Callable

from servers import MonitorServer

BODY = 4 * 1024 * 1024           # the parser's max_body_bytes: the largest body one may announce
CHUNK = 256 * 1024
ADDRESSES = 100                  # 127.0.0.2 .. 127.0.0.101
SETTLE_S = 2.0                   # after closing, let the server notice every EOF


def rss_mib(server: MonitorServer) -> float:
    return server.memory_kib()["VmRSS"] / 1024


def peak_mib(server: MonitorServer) -> float:
    return server.memory_kib()["VmHWM"] / 1024


def flood(server: MonitorServer, count: int, stall_s: float) -> dict[str, int]:
    """`count` connections announcing BODY bytes and sending BODY - 1; what became of them."""
    selector = selectors.DefaultSelector()
    head = b"POST /api/v1/medidores/x/leituras HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n" \
           b"Content-Length: %d\r\n\r\n" % BODY
    pending: dict[socket.socket, int] = {}
    stalled: list[socket.socket] = []
    outcome = {"stalled": 0, "refused": 0, "reset": 0}
    for i in range(count):
        sock = socket.socket()
        sock.bind((f"127.0.0.{2 + i % ADDRESSES}", 0))
        sock.connect((server.host, server.port))
        sock.setblocking(False)
        sock.send(head)
        pending[sock] = BODY - 1
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
    chunk = b"7" * CHUNK
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for key, events in selector.select(1.0):
            sock = key.fileobj
            if sock not in pending:
                continue
            if events & selectors.EVENT_READ:
                # The server answered before the body was complete: refused (503, or 429).
                try:
                    answer = sock.recv(4096)
                except OSError:
                    answer = b""
                outcome["refused" if answer.startswith(b"HTTP/1.1 ") else "reset"] += 1
                selector.unregister(sock)
                del pending[sock]
                continue
            left = pending[sock]
            try:
                sent = sock.send(chunk[:min(CHUNK, left)])
            except BlockingIOError:
                continue
            except OSError as exc:
                outcome["reset" if exc.errno in (errno.EPIPE, errno.ECONNRESET) else "refused"] += 1
                selector.unregister(sock)
                del pending[sock]
                continue
            pending[sock] = left - sent
            if pending[sock] == 0:
                outcome["stalled"] += 1     # all but the last byte is there: now it waits
                selector.unregister(sock)
                del pending[sock]
                stalled.append(sock)
    time.sleep(stall_s)
    for sock in stalled + [key.fileobj for key in selector.get_map().values()]:
        sock.close()
    selector.close()
    return outcome


def run_rounds(server: MonitorServer, rounds: int, connections: int,
               report: Callable[[str], None] = print) -> tuple[float, list[tuple[int, dict[str, int], float, float]]]:
    """(RSS at start, [(round, outcome, peak RSS so far, RSS after they left)]), in MiB."""
    start = rss_mib(server)
    report(f"  RSS at start: {start:.0f} MiB")
    rows = []
    for round_ in range(1, rounds + 1):
        outcome = flood(server, connections, stall_s=1.0)
        time.sleep(SETTLE_S)
        during, after = peak_mib(server), rss_mib(server)
        rows.append((round_, outcome, during, after))
        report(f"  round {round_}: {outcome}; peak so far {during:.0f} MiB; after they left {after:.0f} MiB")
    return start, rows


def markdown(start: float, rows: list, connections: int) -> str:
    lines = ["| round | connections | stalled (held) | refused (503/429) | reset | peak RSS so far (MiB) "
             "| RSS after they left (MiB) |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for round_, outcome, during, after in rows:
        lines.append(f"| {round_} | {connections} | {outcome['stalled']} | {outcome['refused']} | {outcome['reset']} "
                     f"| {during:.0f} | {after:.0f} |")
    lines.append(f"\nRSS at start {start:.0f} MiB; after the last round {rows[-1][3]:.0f} MiB "
                 f"({rows[-1][3] / start:.2f}× start); peak {max(r[2] for r in rows):.0f} MiB.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rodadas", type=int, default=7)
    parser.add_argument("--conexoes", type=int, default=200)
    parser.add_argument("--saida", type=Path)
    args = parser.parse_args()
    server = MonitorServer("abuso", client_limits=True)
    try:
        start, rows = run_rounds(server, args.rodadas, args.conexoes)
        health = server.health()
    finally:
        code = server.stop()
    text = markdown(start, rows, args.conexoes) + f" /saude after: {health.get('estado', health)}; exit code {code}."
    print(text)
    if args.saida:
        args.saida.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
