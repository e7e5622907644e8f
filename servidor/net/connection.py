"""One accepted client socket with its parser, its owner and its deadline.

A connection belongs to exactly one owner at a time, and only the owner touches its socket
and parser: the selector thread while it waits for bytes (READING) or drains before closing
(LINGERING), a worker while a complete request is answered (BUSY), nobody while a Deferred
is pending (PARKED). Ownership moves by handing the object over, so no per-connection lock.
"""
from __future__ import annotations

import enum
import itertools
import socket
from typing import Callable

from shared.http.limits import Limits
from shared.http.request_parser import END_OF_STREAM, NEED_DATA, SEND_CONTINUE, RequestParser
from shared.http.serializer import CONTINUE_BYTES

from .deferred import Deferred

# One recv per readiness event. 64 KiB takes a whole batch of readings in a few calls while
# keeping a single greedy client from monopolising the selector thread.
RECV_BYTES = 64 * 1024

# Longest a worker waits for a client to take a response (total, for the whole response: since
# Python 3.5 sendall's timeout is not reset by partial progress). Bounds how long a client that
# stops reading can hold a worker; our largest responses (a year of hourly readings) are a few
# hundred KiB, which any live client reads in well under a second.
WRITE_TIMEOUT = 30.0

# RFC 9112 §9.6: a server closing a connection should half-close its write side, then keep
# reading until the client closes too, or the unread bytes make the kernel answer with a
# reset that can destroy the response before the client reads it. The drain is bounded by
# time and by bytes so a client that keeps sending cannot keep the connection.
LINGER_TIMEOUT = 2.0
LINGER_MAX_BYTES = 1024 * 1024

_ids = itertools.count(1)


class After(enum.Enum):
    """What a worker asks the selector to do with a connection it hands back."""

    READ = "read"              # wait for the next request
    LINGER = "linger"          # last response written: drain, then close (RFC 9112 §9.6)
    CLOSE = "close"            # close now (peer gone, or it already closed its side)


class State(enum.Enum):
    READING = "reading"        # selector waits for request bytes (idle or partial request)
    BUSY = "busy"              # a worker is answering a complete request
    PARKED = "parked"          # a Deferred is pending; the socket is not read
    LINGERING = "lingering"    # write side closed, draining until the peer closes
    RETURNING = "returning"    # a worker handed it back; the selector has not taken it yet
    CLOSED = "closed"


class Connection:
    """A client socket, its RequestParser and the bookkeeping the server keeps about it."""

    def __init__(
        self,
        sock: socket.socket,
        peer: tuple,
        limits: Limits,
        body_until_close: Callable[[str, str], bool] | None,
    ) -> None:
        self.id = next(_ids)
        self.sock = sock
        self.peer = peer
        self.parser = RequestParser(limits, body_until_close)
        self.state = State.READING
        # When the selector must act on this connection: close (idle, linger) or 408 (read).
        self.deadline = 0.0
        # Monotonic time the first byte of the current request arrived; None between requests.
        self.request_started: float | None = None
        # The peer closed its write side (recv returned b""); no more bytes will ever come.
        self.eof = False
        self.drained = 0
        self.deferred: Deferred | None = None

    def __repr__(self) -> str:
        return f"<Connection #{self.id} {self.peer} {self.state.value}>"

    # -- protocol -------------------------------------------------------------------------

    def pump(self) -> object:
        """The next parser event that needs the owner: a Request, NEED_DATA or END_OF_STREAM.

        RFC 9110 §10.1.1: a client that sent `Expect: 100-continue` waits for the interim
        response before sending the body, so SEND_CONTINUE is answered here and parsing goes
        on. Raises ProtocolError from the parser and OSError if the interim write fails.
        """
        while True:
            event = self.parser.next_event()
            if event is SEND_CONTINUE:
                self._send_interim(CONTINUE_BYTES)
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

    @property
    def request_pending(self) -> bool:
        return self.parser.pending()

    # -- socket I/O -----------------------------------------------------------------------

    def recv(self) -> bytes | None:
        """One non-blocking read; None when nothing is there after all (spurious wakeup)."""
        try:
            return self.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return None

    def send_all(self, data: bytes) -> None:
        """Write a whole response from a worker; raises OSError (timeout, reset, broken pipe).

        A response usually fits the socket's send buffer, so one non-blocking send takes it
        whole and the socket never changes mode (each mode change is a syscall, twice per
        request). Only a response the buffer cannot take waits, for at most WRITE_TIMEOUT."""
        if self.sock.gettimeout() == 0.0:
            try:
                sent = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
        self.sock.settimeout(WRITE_TIMEOUT)
        self.sock.sendall(data)

    def _send_interim(self, data: bytes) -> None:
        # When the selector thread owns the socket it is non-blocking; its send buffer is empty
        # then (workers finish every response before handing a connection back), so these few
        # bytes are taken whole. A worker's socket is in timeout mode and sendall just waits.
        if self.sock.gettimeout() == 0.0:
            sent = self.sock.send(data)
            if sent != len(data):
                raise ConnectionError("interim response did not fit in an empty send buffer")
        else:
            self.sock.sendall(data)

    def make_nonblocking(self) -> None:
        if self.sock.gettimeout() != 0.0:  # gettimeout reads a field; setblocking is a syscall
            self.sock.setblocking(False)

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
        try:
            self.sock.close()
        except OSError:
            pass

