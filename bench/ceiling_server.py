"""The least an HTTP/1.1 server in Python can do: read a request, answer a canned 200.

This is the ceiling the real server is compared with on the same machine and the same load:
a thread per keep-alive connection, blocking sockets, framing by Content-Length only, no
parsing beyond finding the end of the head, no application and no disk. Whatever the real
server does per request (parse, route, authenticate, validate, append, fsync) costs the gap.

Run alone: `python bench/ceiling_server.py [--porta N]`; it prints `ceiling ouvindo em
http://127.0.0.1:<porta>/` when ready and stops on SIGTERM or SIGINT.
"""
from __future__ import annotations

import argparse
import signal
import socket
import threading

# Same size and shape as the real server's answer to one reading, so both send alike.
BODY = b'{"aceitas":1,"duplicadas":0,"ultimo_seq":1,"comandos":[]}'
CANNED = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
          + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
RECV_BYTES = 64 * 1024
BACKLOG = 1024
# The bench sends small requests; a head this large is not one of ours and is dropped.
MAX_HEAD = 64 * 1024


def _content_length(head: bytes) -> int:
    at = head.lower().find(b"\r\ncontent-length:")
    if at < 0:
        return 0              # RFC 9112 §6.3: no Content-Length, no Transfer-Encoding → no body
    stop = head.find(b"\r\n", at + 2)
    return int(head[at + 17: stop if stop >= 0 else len(head)])


def serve_connection(sock: socket.socket) -> None:
    """Answer every request on `sock` until the client closes; then close it."""
    buf = b""
    try:
        while True:
            end = buf.find(b"\r\n\r\n")
            while end < 0:
                if len(buf) > MAX_HEAD:
                    return
                data = sock.recv(RECV_BYTES)
                if not data:
                    return
                buf += data
                end = buf.find(b"\r\n\r\n")
            total = end + 4 + _content_length(buf[:end])
            while len(buf) < total:
                data = sock.recv(RECV_BYTES)
                if not data:
                    return
                buf += data
            buf = buf[total:]
            sock.sendall(CANNED)
    except (OSError, ValueError):
        pass
    finally:
        sock.close()


class CeilingServer:
    """Accept loop in a thread; one daemon thread per connection (they end with their client)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._listener = socket.create_server((host, port), backlog=BACKLOG)
        self.address = self._listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._accept, name="ceiling-accept", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return                    # the listener was closed: stop
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=serve_connection, args=(sock,), daemon=True).start()

    def stop(self) -> None:
        # shutdown() wakes the blocked accept(); close() alone would not on Linux.
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        self._thread.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description="servidor mínimo que responde 200 fixo (teto do Python)")
    parser.add_argument("--porta", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    server = CeilingServer(args.host, args.porta)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    host, port = server.address
    print(f"ceiling ouvindo em http://{host}:{port}/", flush=True)
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
