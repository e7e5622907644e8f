"""Server-side HTTP/1.1 request parser: bytes in, events out, no I/O (the h11 model).

The connection loop calls `receive(data)` after each read, `receive_eof()` when the peer shuts its
write side, and `next_event()` until it returns NEED_DATA. Events are a complete `Request`,
`NEED_DATA`, `SEND_CONTINUE` (write CONTINUE_BYTES, then keep reading) and `END_OF_STREAM`.
Every failure is a ProtocolError subclass carrying the status to answer with; after one, the
parser is dead and repeats it.
"""
from __future__ import annotations

import operator
import re
from typing import Callable, Final

from ._framing import ChunkedDecoder, content_length, find_head_end, parse_fields, parse_request_line, split_lines, take
from .errors import (
    BadRequest,
    ExpectationFailed,
    HeaderFieldsTooLarge,
    NotImplementedByServer,
    PayloadTooLarge,
    ProtocolError,
    UriTooLong,
)
from .limits import DEFAULT_LIMITS, Limits
from .messages import Headers, Request


class Sentinel:
    """A named singleton event; compare with `is`."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> str:
        # Pickling returns the module-level object, so identity checks survive a round trip.
        return self._name


NEED_DATA: Final = Sentinel("NEED_DATA")
SEND_CONTINUE: Final = Sentinel("SEND_CONTINUE")
END_OF_STREAM: Final = Sentinel("END_OF_STREAM")

Event = Request | Sentinel

# RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line SHOULD ignore at
# least one empty line (CRLF) received prior to the request-line." We ignore any number; they are
# consumed as they arrive, so they cannot pile up in memory.
_LEADING_EMPTY_LINES = re.compile(rb"(?:\r?\n)*")
_EOL_BYTES = frozenset(b"\r\n")
# The common head in one C-speed pass: an upper-case method, an origin-form target, HTTP/1.x,
# CRLF line ends, and header lines that are a token, a colon and a value free of controls (the
# rules of TOKEN and FIELD_VALUE_BAD). Anything else takes the line-by-line path, which accepts
# the rarer forms (bare LF, absolute-form) and words the precise error. No part of a line can
# match two ways, so a failing match cannot backtrack badly.
_FAST_HEAD = re.compile(
    rb"([A-Z]+) (/[\x21-\x7e]*) HTTP/1\.([0-9])\r\n"
    rb"((?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*)\r\n"
)

_split_field = operator.methodcaller("partition", ":")

_HEAD, _BODY_LENGTH, _BODY_CHUNKED, _BODY_UNTIL_CLOSE = range(4)
# The header fields that decide how a request is framed and answered.
_FRAMING_NAMES = frozenset({"content-length", "transfer-encoding", "host", "expect"})


def _no_body_until_close(method: str, target: str) -> bool:
    return False


class RequestParser:
    """Parses a stream of requests from one connection (pipelining included).

    `body_until_close(method, target)` decides, for a request with neither Content-Length nor
    Transfer-Encoding, whether its body runs until the peer closes (the legacy 004 meter does
    this). By default RFC 9112 §6.3 applies: "If this is a request message and none of the above
    are true, then the message body length is zero".
    """

    def __init__(
        self,
        limits: Limits = DEFAULT_LIMITS,
        body_until_close: Callable[[str, str], bool] | None = None,
    ) -> None:
        self._limits = limits
        self._body_until_close = body_until_close or _no_body_until_close
        self._buf = bytearray()
        self._eof = False
        self._error: ProtocolError | None = None
        self._state = _HEAD
        # Where the search for the end of the head resumes, so trickled heads are scanned once.
        self._scan = 0
        # CRLF after the request line, the header block, and the final CRLF: where a head ends.
        self._head_bound = limits.max_request_line + 2 + limits.max_header_bytes + 2
        self._method = ""
        self._target = ""
        self._version = ""
        self._headers: Headers = ()
        self._length = 0
        self._chunks: ChunkedDecoder | None = None
        self._continue_due = False

    # -- input ---------------------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Buffer bytes read from the peer."""
        self._raise_if_dead()
        if self._eof and data:
            raise RuntimeError("receive() after receive_eof()")
        self._buf += data

    def receive_eof(self) -> None:
        """Record that the peer closed its write side; buffered bytes are still parsed."""
        self._raise_if_dead()
        self._eof = True

    def pending(self) -> bool:
        """Whether part of a request is buffered: the server's cue for read vs idle timeouts."""
        if self._state != _HEAD:
            return True
        if not self._buf:
            return False
        end = _LEADING_EMPTY_LINES.match(self._buf)
        return end is not None and end.end() < len(self._buf)

    def committed(self) -> int:
        """Bytes this parser holds plus the body bytes the current request has announced.

        A server counts this against its memory budget, so a body is paid for from the moment
        its Content-Length (or chunk size) is declared, not only as it trickles in.
        """
        held = len(self._buf)
        if self._state == _BODY_LENGTH:
            return max(held, self._length)
        if self._state == _BODY_CHUNKED and self._chunks is not None:
            return held + self._chunks.committed()
        return held

    # -- output --------------------------------------------------------------------------------

    def next_event(self) -> Event:
        """The next event; raises ProtocolError (and keeps raising it) when the peer broke HTTP."""
        if self._error is not None:
            raise self._error
        try:
            if self._state == _HEAD and not self._scan and self._buf:
                # A new head in the common form is read straight from the buffer (no search for
                # its end, no copy), and a request whose body is here too is answered at once.
                if self._start_fast(self._head_bound) and self._state == _BODY_LENGTH and not self._continue_due \
                        and len(self._buf) >= self._length:
                    return self._finish(take(self._buf, self._length))  # the whole request is here
            return self._next_event()
        except ProtocolError as exc:
            self._error = exc
            # A dead parser never reads its bytes again: free them now. The stored error's
            # traceback refers back to this parser, a cycle only the garbage collector undoes,
            # and it must not keep a 4 MiB body alive until then.
            self._buf = bytearray()
            self._chunks = None
            raise

    def _raise_if_dead(self) -> None:
        if self._error is not None:
            raise self._error

    def _next_event(self) -> Event:
        if self._state == _HEAD:
            if not self._buf:
                return END_OF_STREAM if self._eof else NEED_DATA
            waiting = self._parse_head()
            if waiting is not None:
                return waiting
        request = self._parse_body()
        if request is not None:
            return request
        if self._continue_due:
            # RFC 9110 §10.1.1: the server either sends 100 (Continue) or a final status; we only
            # get here after the head passed every check, so the client may send the body.
            self._continue_due = False
            return SEND_CONTINUE
        if self._eof:
            raise BadRequest("conexão encerrada antes do fim do corpo da requisição")
        return NEED_DATA

    # -- head ----------------------------------------------------------------------------------

    def _parse_head(self) -> Sentinel | None:
        """Parses a complete head and sets the body state; returns a Sentinel while waiting."""
        buf = self._buf
        if buf[0] in _EOL_BYTES:
            skipped = _LEADING_EMPTY_LINES.match(buf)
            if skipped is not None and skipped.end():
                del buf[: skipped.end()]
                self._scan = 0
            if not buf:
                return END_OF_STREAM if self._eof else NEED_DATA
        end = find_head_end(buf, self._scan, self._head_bound)
        if end < 0:
            self._check_partial_head()
            if self._eof:
                raise BadRequest("conexão encerrada no meio do cabeçalho da requisição")
            self._scan = len(buf)
            return NEED_DATA
        self._scan = 0
        if not self._start_fast(end):
            self._start_request(take(buf, end))
        return None

    def _check_partial_head(self) -> None:
        """Apply the head limits before the head is complete, so a flood is cut off early."""
        limits = self._limits
        newline = self._buf.find(b"\n", 0, limits.max_request_line + 2)
        if newline < 0:
            if len(self._buf) >= limits.max_request_line + 2:
                raise UriTooLong(f"linha de requisição maior que {limits.max_request_line} bytes")
            return
        self._check_request_line_length(newline)
        if len(self._buf) - newline - 1 > limits.max_header_bytes + 2:
            raise HeaderFieldsTooLarge(f"cabeçalhos maiores que {limits.max_header_bytes} bytes")

    def _check_request_line_length(self, newline: int) -> None:
        length = newline - 1 if newline and self._buf[newline - 1] == 0x0D else newline
        if length > self._limits.max_request_line:
            raise UriTooLong(f"linha de requisição maior que {self._limits.max_request_line} bytes")

    def _start_request(self, head: bytes) -> None:
        lines = split_lines(head)
        request_line, field_lines = lines[0], lines[1:]
        if len(request_line) > self._limits.max_request_line:
            raise UriTooLong(f"linha de requisição maior que {self._limits.max_request_line} bytes")
        field_bytes = len(head) - len(request_line)
        if field_bytes > self._limits.max_header_bytes + 4:
            raise HeaderFieldsTooLarge(f"cabeçalhos maiores que {self._limits.max_header_bytes} bytes")
        self._method, self._target, self._version = parse_request_line(request_line)
        self._headers = parse_fields(field_lines, self._limits)
        self._choose_framing()

    def _start_fast(self, end: int) -> bool:
        """The common head through _FAST_HEAD, matched at the start of the buffer and within its
        first `end` bytes, and taken off it; False (nothing changed) when it does not fit."""
        buf = self._buf
        match = _FAST_HEAD.match(buf, 0, end)
        if match is None:
            return False
        method, target, minor, block = match.groups()
        limits = self._limits
        size = match.end()
        if size - len(block) > limits.max_request_line + 4 or len(block) > limits.max_header_bytes:
            return False                   # over a limit: the slow path words the error
        # obs-text (0x80-0xFF) is opaque octets that latin-1 maps one to one; names are ASCII
        # (the regex checked), which latin-1 decodes the same. One decode for the whole block.
        lines = block.decode("latin-1").split("\r\n")
        del lines[-1]                      # the block ends with CRLF: one empty string after it
        if len(lines) > limits.max_header_count:
            return False
        # RFC 9112 §5.1: optional whitespace around the value is not part of it.
        fields = [(name.lower(), value.strip(" \t")) for name, _, value in map(_split_field, lines)]
        self._method = method.decode("ascii")
        self._target = target.decode("ascii")
        # RFC 9110 §2.5: a 1.x message with a higher minor version is handled as the highest we know.
        self._version = "HTTP/1.0" if minor == b"0" else "HTTP/1.1"
        self._headers = tuple(fields)
        del buf[:size]
        # Framed here when it is one plain Content-Length within the limit and at most one Host.
        length, hosts = -1, 0
        for name, value in fields:
            if name in _FRAMING_NAMES:
                if name == "host":
                    hosts += 1
                elif name == "content-length" and length < 0 and value.isdigit() and value.isascii() and len(value) <= 18:
                    length = int(value)
                else:
                    length = limits.max_body_bytes + 1
        if 0 <= length <= limits.max_body_bytes and hosts <= 1:
            self._length, self._state, self._chunks, self._continue_due = length, _BODY_LENGTH, None, False
        else:
            self._choose_framing()
        return True

    def _choose_framing(self) -> None:
        """RFC 9112 §6 message framing, plus the Expect handling that depends on it."""
        lengths: list[str] = []
        codings: list[str] = []
        expectations: list[str] = []
        hosts = 0
        for name, value in self._headers:
            if name in _FRAMING_NAMES:
                if name == "content-length":
                    lengths.append(value)
                elif name == "transfer-encoding":
                    codings.append(value)
                elif name == "host":
                    hosts += 1
                else:
                    expectations.append(value)
        if hosts > 1:
            # RFC 9112 §3.2: a server MUST answer 400 to a request with more than one Host line.
            raise BadRequest("cabeçalho Host repetido")
        self._chunks = None
        if codings:
            if lengths:
                # RFC 9112 §6.3: TE plus CL "ought to be handled as an error"; smuggling vector.
                raise BadRequest("Content-Length e Transfer-Encoding juntos não são aceitos")
            if self._version == "HTTP/1.0":
                # RFC 9112 §6.1: TE in an HTTP/1.0 message means the framing is faulty.
                raise BadRequest("Transfer-Encoding não existe em HTTP/1.0")
            tokens = [t.strip().lower() for value in codings for t in value.split(",")]
            if tokens != ["chunked"]:
                # RFC 9112 §6.1: an unknown transfer coding SHOULD get 501.
                raise NotImplementedByServer(f"Transfer-Encoding não suportado: {', '.join(codings)}")
            self._chunks = ChunkedDecoder(self._limits, self._limits.max_body_bytes)
            self._state = _BODY_CHUNKED
        elif lengths:
            self._length = content_length(lengths)
            if self._length > self._limits.max_body_bytes:
                # Refused on the head alone: no point reading (or asking for) a body we will drop.
                raise PayloadTooLarge(
                    f"corpo de {self._length} bytes excede o limite de {self._limits.max_body_bytes}"
                )
            self._state = _BODY_LENGTH
        elif self._body_until_close(self._method, self._target):
            self._state = _BODY_UNTIL_CLOSE
        else:
            self._length = 0
            self._state = _BODY_LENGTH
        self._continue_due = self._expects_continue(expectations)

    def _expects_continue(self, expectations: list[str]) -> bool:
        if not expectations:
            return False
        if [e.strip().lower() for e in expectations] != ["100-continue"]:
            # RFC 9110 §10.1.1: "A server that receives an Expect field value containing a member
            # other than 100-continue MAY respond with a 417 (Expectation Failed)".
            raise ExpectationFailed(f"Expect não suportado: {', '.join(expectations)}")
        # RFC 9110 §10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0
        # request MUST ignore that expectation." Nothing to wait for on an empty body either.
        return self._version == "HTTP/1.1" and not (self._state == _BODY_LENGTH and self._length == 0)

    # -- body ----------------------------------------------------------------------------------

    def _parse_body(self) -> Request | None:
        buf = self._buf
        if self._state == _BODY_LENGTH:
            if len(buf) < self._length:
                return None
            body = take(buf, self._length)
        elif self._state == _BODY_CHUNKED:
            assert self._chunks is not None
            decoded = self._chunks.feed(buf)
            if decoded is None:
                return None
            body = decoded
        else:
            if len(buf) > self._limits.max_body_bytes:
                raise PayloadTooLarge(f"corpo maior que o limite de {self._limits.max_body_bytes} bytes")
            if not self._eof:
                return None
            body = bytes(buf)
            buf.clear()
        return self._finish(body)

    def _finish(self, body: bytes) -> Request:
        self._state = _HEAD
        self._chunks = None
        self._continue_due = False
        # Every field was checked on the way in: skip the value's own checks (hot path).
        return Request.trusted(self._method, self._target, self._version, self._headers, body)
