"""One accepted client socket with its parser, its unsent output, its owner and its deadline.

A connection belongs to exactly one owner at a time, and only the owner touches its socket and
parser: the selector thread while it waits for bytes (READING), for room to write (WRITING) or
drains before closing (LINGERING), a worker while a complete request is answered (BUSY), nobody
while a Deferred is pending (PARKED). Ownership moves by handing the object over (a job in the
pool, or one-shot interest in the poller), so there is no per-connection lock.

The socket is non-blocking for its whole life: a write that does not fit leaves the rest in
`out` for the selector thread to send as the client reads, and no further request is parsed
until it is gone. A client that stops reading therefore holds one response and a descriptor,
never a thread.
"""
from __future__ import annotations

import enum
import itertools
import socket
from typing import Callable

from shared.http.limits import Limits
from shared.http.request_parser import END_OF_STREAM, NEED_DATA, SEND_CONTINUE, RequestParser, Sentinel
from shared.http.serializer import CONTINUE_BYTES

from .clients import Client
from .deferred import Deferred

# One recv per readiness event. 64 KiB takes a whole batch of readings in a few calls while
# keeping a single greedy client from monopolising the selector thread.
RECV_BYTES = 64 * 1024

# The kernel's send buffer for each connection, fixed instead of autotuned: Linux grows it up to
# 4 MiB per socket on fast links, which lets one client that stops reading pin that much kernel
# memory and have the server compute every answer that fits before it notices. 256 KiB still
# takes our largest answers in one write.
SEND_BUFFER = 256 * 1024

# RFC 9112 §9.6: a server closing a connection should half-close its write side, then keep
# reading until the client closes too, or the unread bytes make the kernel answer with a
# reset that can destroy the response before the client reads it. The drain is bounded by
# time and by bytes so a client that keeps sending cannot keep the connection.
LINGER_TIMEOUT = 2.0
LINGER_MAX_BYTES = 1024 * 1024

# What pump() returns when an interim `100 Continue` did not fit in the socket: the rest is in
# `out`, and parsing goes on once it is sent.
WRITE_PENDING = Sentinel("WRITE_PENDING")

_ids = itertools.count(1)


class After(enum.Enum):
    """What happens to a connection once its pending output is sent."""

    READ = "read"              # parse the next request (keep-alive)
    LINGER = "linger"          # last response written: drain, then close (RFC 9112 §9.6)
    CLOSE = "close"            # close now


class State(enum.Enum):
    READING = "reading"        # selector waits for request bytes (idle or partial request)
    WRITING = "writing"        # selector waits for room to send the rest of a response
    BUSY = "busy"              # a worker is answering a complete request
    PARKED = "parked"          # a Deferred is pending; the socket is not read
    LINGERING = "lingering"    # write side closed, draining until the peer closes
    RETURNING = "returning"    # a worker asked the selector to close it; not done yet
    CLOSED = "closed"


class Connection:
    """A client socket, its RequestParser and the bookkeeping the server keeps about it."""

    def __init__(
        self,
        sock: socket.socket,
        peer: tuple,
        client: Client,
        limits: Limits,
        body_until_close: Callable[[str, str], bool] | None,
    ) -> None:
        self.id = next(_ids)
        self.sock = sock
        self.peer = peer
        self.client = client
        self.parser = RequestParser(limits, body_until_close)
        self.state = State.READING
        # When the selector must act on this connection: close (idle, linger, write), or 408.
        self.deadline = 0.0
        # When the connection last became idle (accepted, or its last answer sent). Bytes that
        # start no request (bare CRLFs) do not move it, so they cannot keep a connection open.
        self.idle_since = 0.0
        # Monotonic time the first byte of the current request arrived; None between requests.
        self.request_started: float | None = None
        # The peer closed its write side (recv returned b""); no more bytes will ever come.
        self.eof = False
        self.drained = 0
        self.deferred: Deferred | None = None
        # Its request was handled in the selector thread, which also writes the answer.
        self.inline = False
        # Unsent bytes of the response being written, and what to do once they are sent.
        self.out: memoryview | None = None
        self.after = After.READ
        # Bytes counted against the server's memory budget for this connection.
        self.charge = 0

    def __repr__(self) -> str:
        return f"<Connection #{self.id} {self.peer} {self.state.value}>"

    # -- protocol -------------------------------------------------------------------------

    def pump(self) -> object:
        """The next parser event that needs the owner: a Request, NEED_DATA, END_OF_STREAM or
        WRITE_PENDING.

        RFC 9110 §10.1.1: a client that sent `Expect: 100-continue` waits for the interim
        response before sending the body, so SEND_CONTINUE is answered here and parsing goes
        on. Raises ProtocolError from the parser and OSError if the interim write fails.
        """
        while True:
            event = self.parser.next_event()
            if event is SEND_CONTINUE:
                if not self.send(CONTINUE_BYTES):
                    self.after = After.READ
                    return WRITE_PENDING
                continue
            if event is NEED_DATA and self.eof:
                # The parser must settle a stream that has ended; if it still wants bytes,
                # treat the stream as over rather than wait for a read that will never come.
                return END_OF_STREAM
            return event

    def feed(self, data: bytes) -> None:
        """Give the parser bytes just read; b"" means the peer closed its write side."""
        if data:
            self.parser.receive(data)
        else:
            self.eof = True
            self.parser.receive_eof()

    def forget_input(self) -> None:
        """Drop what the parser holds (up to a whole body): no request will be read again."""
        self.parser = RequestParser()

    @property
    def request_pending(self) -> bool:
        return self.parser.pending()

    # -- socket I/O -----------------------------------------------------------------------

    def recv(self) -> bytes | None:
        """One non-blocking read; None when nothing is there after all. Raises OSError."""
        try:
            return self.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return None

    def send(self, data: bytes) -> bool:
        """Write without waiting: True when all of `data` went out, else the rest waits in `out`.

        A response usually fits the socket's send buffer and goes in one call. Raises OSError
        when the peer is gone.
        """
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent == len(data):
            return True
        self.out = memoryview(data)[sent:]
        return False

    def flush(self) -> bool:
        """Send more of `out` (the socket was writable); True once it is all gone."""
        out = self.out
        if out is None:
            return True
        try:
            sent = self.sock.send(out)
        except (BlockingIOError, InterruptedError):
            return False
        if sent == len(out):
            self.out = None
            return True
        self.out = out[sent:]
        return False

    def half_close(self) -> None:
        """Send FIN after the last response (first step of the lingering close)."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def drain(self) -> bool:
        """Discard what the peer still sends while lingering; True when it is time to close."""
        try:
            data = self.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        self.drained += len(data)
        return not data or self.drained > LINGER_MAX_BYTES

    def discard_pending(self) -> None:
        """Read and drop whatever has already arrived, without waiting for more.

        Closing with unread bytes makes the kernel send RST instead of FIN; when there is no
        time to linger (shutdown), emptying the receive buffer is the next best thing.
        """
        while self.drained <= LINGER_MAX_BYTES:
            try:
                data = self.sock.recv(RECV_BYTES)
            except OSError:                # BlockingIOError included: nothing more is there
                return
            if not data:
                return
            self.drained += len(data)

    def close(self) -> None:
        self.state = State.CLOSED
        self.out = None
        try:
            self.sock.close()
        except OSError:
            pass
