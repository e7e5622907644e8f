"""Client-side HTTP/1.1 response parser: bytes in, Response values out, no I/O.

The client calls `receive(data)` after each read, `receive_eof()` when the server closes, and
`next_response(head=...)` until it returns a Response (None means: read more). Interim 1xx
responses are skipped. Every failure is a ResponseError.
"""
from __future__ import annotations

import re

from ._framing import ChunkedDecoder, find_head_end, parse_fields, split_lines
from .errors import PayloadTooLarge, ProtocolError, ResponseError
from .limits import DEFAULT_LIMITS, Limits
from .messages import Headers, Response

# RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]. Some servers omit
# the SP before an empty reason, so it is optional here.
_STATUS_LINE = re.compile(rb"HTTP/1\.([0-9]) ([1-5][0-9]{2})(?: ([\t \x21-\x7e\x80-\xff]*))?\Z")
_LEADING_EMPTY_LINES = re.compile(rb"(?:\r?\n)*")

_HEAD, _BODY_LENGTH, _BODY_CHUNKED, _BODY_UNTIL_CLOSE = range(4)


class ResponseParser:
    """Parses the responses arriving on one client connection, in order."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._buf = bytearray()
        self._eof = False
        self._state = _HEAD
        self._scan = 0
        self._status = 0
        self._headers: Headers = ()
        self._close = False
        self._length = 0
        self._chunks: ChunkedDecoder | None = None

    def receive(self, data: bytes) -> None:
        """Buffer bytes read from the server."""
        if self._eof and data:
            raise RuntimeError("receive() after receive_eof()")
        self._buf += data

    def receive_eof(self) -> None:
        """Record that the server closed the connection."""
        self._eof = True

    def next_response(self, *, head: bool = False) -> Response | None:
        """The next final response, or None when more bytes are needed.

        `head` says the request was HEAD: RFC 9112 §6.3, such a response has no body whatever
        its headers say. Raises ResponseError for anything that is not valid HTTP/1.1.
        """
        try:
            while self._state == _HEAD:
                if not self._parse_head(head):
                    return None
            return self._parse_body()
        except ResponseError:
            raise
        except ProtocolError as exc:
            # The shared framing code speaks in request terms; from here it is the server's fault.
            raise ResponseError(exc.message) from exc

    # -- head ----------------------------------------------------------------------------------

    def _parse_head(self, head: bool) -> bool:
        """Parse one head; False when more bytes are needed. Leaves _HEAD for final responses."""
        buf = self._buf
        skipped = _LEADING_EMPTY_LINES.match(buf)
        if skipped is not None and skipped.end():
            del buf[: skipped.end()]
            self._scan = 0
        limits = self._limits
        search_end = limits.max_request_line + limits.max_header_bytes + 4
        end = find_head_end(buf, self._scan, search_end)
        if end < 0:
            if len(buf) >= search_end:
                raise ResponseError("cabeçalho da resposta grande demais")
            if self._eof:
                raise ResponseError(
                    "conexão fechada no meio do cabeçalho da resposta" if buf else "conexão fechada sem resposta"
                )
            self._scan = len(buf)
            return False
        raw = bytes(buf[:end])
        del buf[:end]
        self._scan = 0
        lines = split_lines(raw)
        match = _STATUS_LINE.match(lines[0])
        if match is None:
            raise ResponseError(f"linha de status inválida: {lines[0][:80]!r}")
        status = int(match.group(2))
        headers = parse_fields(lines[1:], limits)
        if 100 <= status < 200 and status != 101:
            # RFC 9110 §15.2: a client MUST be able to parse one or more 1xx responses received
            # prior to a final response, even if it did not expect one; they carry nothing for us.
            return True
        self._status, self._headers = status, headers
        self._close = _wants_close(match.group(1), headers)
        self._choose_framing(head)
        return True

    def _choose_framing(self, head: bool) -> None:
        """RFC 9112 §6.3, the message-body length rules, in order."""
        lengths = [v for k, v in self._headers if k == "content-length"]
        codings = [t.strip().lower() for k, v in self._headers if k == "transfer-encoding" for t in v.split(",")]
        self._chunks = None
        if head or self._status in (101, 204, 304):
            # 1. HEAD, 1xx, 204 and 304 responses end at the empty line after the header section.
            # 101 hands the connection to another protocol, so no more HTTP follows on it.
            self._length, self._state = 0, _BODY_LENGTH
            self._close = self._close or self._status == 101
        elif codings:
            # 3. Transfer-Encoding overrides Content-Length; "such a message might indicate an
            # attempt to perform request smuggling", so the connection is not reused afterwards.
            self._close = self._close or bool(lengths)
            if codings[-1] == "chunked":
                if codings != ["chunked"]:
                    # We never send Accept-Encoding, so a compressed body is not ours to decode.
                    raise ResponseError(f"codificação de transferência não suportada: {', '.join(codings)}")
                self._chunks = ChunkedDecoder(self._limits, self._limits.max_response_body)
                self._state = _BODY_CHUNKED
            else:
                # "If a Transfer-Encoding header field is present in a response and the chunked
                # transfer coding is not the final encoding, the message body length is determined
                # by reading the connection until it is closed by the server."
                self._close, self._state = True, _BODY_UNTIL_CLOSE
        elif lengths:
            # 5. RFC 9110 §8.6 allows a recipient to accept repeated identical values ("42, 42").
            values = {v.strip() for value in lengths for v in value.split(",")}
            raw = values.pop() if len(values) == 1 else ""
            if not raw.isascii() or not raw.isdigit():
                raise ResponseError(f"Content-Length inválido na resposta: {', '.join(lengths)}")
            if len(raw) > 18 or int(raw) > self._limits.max_response_body:
                raise ResponseError(f"corpo da resposta maior que {self._limits.max_response_body} bytes")
            self._length, self._state = int(raw), _BODY_LENGTH
        else:
            # 8. Otherwise the body runs until the server closes (the legacy 004 server did this).
            self._close, self._state = True, _BODY_UNTIL_CLOSE

    # -- body ----------------------------------------------------------------------------------

    def _parse_body(self) -> Response | None:
        buf = self._buf
        if self._state == _BODY_LENGTH:
            if len(buf) < self._length:
                if self._eof:
                    raise ResponseError("conexão fechada antes do fim do corpo da resposta")
                return None
            body = bytes(buf[: self._length])
            del buf[: self._length]
        elif self._state == _BODY_CHUNKED:
            assert self._chunks is not None
            try:
                decoded = self._chunks.feed(buf)
            except PayloadTooLarge as exc:
                raise ResponseError(f"corpo da resposta grande demais: {exc.message}") from exc
            if decoded is None:
                if self._eof:
                    raise ResponseError("conexão fechada no meio do corpo em blocos da resposta")
                return None
            body = decoded
        else:
            if len(buf) > self._limits.max_response_body:
                raise ResponseError(f"corpo da resposta maior que {self._limits.max_response_body} bytes")
            if not self._eof:
                return None
            body = bytes(buf)
            buf.clear()
        self._state = _HEAD
        self._chunks = None
        return Response(self._status, self._headers, body, self._close)


def _wants_close(minor: bytes, headers: Headers) -> bool:
    """RFC 9112 §9.3: persistence is the default in 1.1; HTTP/1.0 needs `keep-alive`."""
    tokens = {t.strip().lower() for k, v in headers if k == "connection" for t in v.split(",")}
    if "close" in tokens:
        return True
    return minor == b"0" and "keep-alive" not in tokens
