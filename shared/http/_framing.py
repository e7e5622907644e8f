"""Framing pieces shared by the request and response parsers: heads, header fields, chunked bodies.

Pure functions over bytes. Every failure is a request-side ProtocolError (BadRequest, or a limit
error); the response parser re-labels them as ResponseError, so the rules live in one place.
"""
from __future__ import annotations

import re

from .errors import BadRequest, HeaderFieldsTooLarge, PayloadTooLarge, VersionNotSupported
from .limits import Limits
from .messages import Headers

# RFC 9110 §5.6.2: token = 1*tchar
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# RFC 9110 §5.5: field-content is VCHAR, SP, HTAB and obs-text; everything else in 0x00-0x1F and DEL
# is invalid. A bare CR lands here too (RFC 9112 §2.2: treat it as invalid).
FIELD_VALUE_BAD = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val = token / quoted-string
_TCHARS = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]+)(?:[ \t]*;[ \t]*" + _TCHARS + rb"(?:[ \t]*=[ \t]*(?:" + _TCHARS + rb"|" + _QUOTED + rb"))?)*[ \t]*\Z"
)
# RFC 9112 §2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT. The minor part is optional here only so
# that "HTTP/2" and "HTTP/3" get the precise 505 instead of a generic 400.
_VERSION = re.compile(rb"HTTP/([0-9])(?:\.([0-9]))?\Z")
# RFC 9112 §3.2: the request-target has no whitespace; visible ASCII only (non-ASCII must be
# percent-encoded, RFC 3986 §2.1).
_TARGET = re.compile(rb"[\x21-\x7e]+\Z")
# Sixteen hex digits already exceed any sane body limit; longer sizes are refused before int().
_MAX_CHUNK_SIZE_DIGITS = 16


def find_head_end(buf: bytearray, scan_from: int, search_end: int) -> int:
    """Offset just past the empty line that ends the head starting at buf[0], or -1.

    `scan_from` is where the previous search gave up, so each byte is examined about once even
    when the head trickles in; `search_end` bounds the search to what the limits allow.
    """
    # With bare LF tolerated, an empty line is "\n\n" or "\n\r\n"; back up so a terminator split
    # across two reads is still seen.
    begin = max(0, scan_from - 2)
    lf_lf = buf.find(b"\n\n", begin, search_end)
    lf_crlf = buf.find(b"\n\r\n", begin, search_end)
    if lf_lf < 0 and lf_crlf < 0:
        return -1
    if lf_crlf < 0 or (0 <= lf_lf < lf_crlf):
        return lf_lf + 2
    return lf_crlf + 3


def take(buf: bytearray, n: int) -> bytes:
    """The first `n` bytes of `buf`, removed from it, copied once (a slice would copy twice)."""
    if n == len(buf):
        data = bytes(buf)
        buf.clear()
        return data
    with memoryview(buf) as view:
        data = bytes(view[:n])
    del buf[:n]
    return data


def split_lines(head: bytes) -> list[bytes]:
    """The lines of a complete head without their terminators; the final empty line is dropped.

    RFC 9112 §2.2: "a recipient MAY recognize a single LF as a line terminator and ignore any
    preceding CR", which is how the leniency for bare-LF senders is implemented.
    """
    lines = head.split(b"\n")
    # A head ends with "<last line>\n\n", so the split leaves two empty strings at the end.
    del lines[-2:]
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def parse_fields(lines: list[bytes], limits: Limits) -> Headers:
    """Header (or trailer) lines into lower-cased (name, value) pairs; raises BadRequest / 431."""
    if len(lines) > limits.max_header_count:
        raise HeaderFieldsTooLarge(
            f"cabeçalhos demais: {len(lines)} (máximo {limits.max_header_count})"
        )
    fields: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            # RFC 9112 §5.2: a server MUST reject a message containing obs-fold with 400.
            raise BadRequest("cabeçalho dobrado em várias linhas (obs-fold) não é aceito")
        name, colon, value = line.partition(b":")
        if not colon:
            raise BadRequest("linha de cabeçalho sem ':'")
        if name[-1:] in (b" ", b"\t"):
            # RFC 9112 §5.1: "A server MUST reject, with a response status code of 400 (Bad
            # Request), any received request message that contains whitespace between a header
            # field name and colon."
            raise BadRequest("espaço entre o nome do cabeçalho e ':' não é permitido")
        if not TOKEN.match(name):
            raise BadRequest("nome de cabeçalho com caracteres inválidos")
        # RFC 9112 §5.1: optional whitespace around the value is not part of it.
        value = value.strip(b" \t")
        if FIELD_VALUE_BAD.search(value):
            raise BadRequest(f"valor do cabeçalho {name.decode('ascii')!r} tem caracteres de controle")
        # obs-text (0x80-0xFF) is opaque octets; latin-1 maps them one to one and never fails.
        fields.append((name.decode("ascii").lower(), value.decode("latin-1")))
    return tuple(fields)


def content_length(values: list[str]) -> int:
    """The single Content-Length of a message; BadRequest when repeated or not 1*DIGIT."""
    if len(values) > 1:
        # RFC 9110 §8.6 lets a recipient merge identical repeats; we refuse them all, because a
        # smuggling attempt relies on two parties choosing different values.
        raise BadRequest("Content-Length repetido")
    raw = values[0]
    if not raw.isascii() or not raw.isdigit():
        raise BadRequest(f"Content-Length inválido: {raw!r}")
    if len(raw) > 18:
        raise PayloadTooLarge("Content-Length grande demais")
    return int(raw)


_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedDecoder:
    """Incremental RFC 9112 §7.1 decoder: extensions are checked and ignored, trailers discarded.

    RFC 9110 §6.5.1 lets a recipient discard trailer fields it does not need; none of ours do.
    """

    def __init__(self, limits: Limits, max_body: int) -> None:
        self._limits = limits
        self._max_body = max_body
        self._state = _SIZE
        self._remaining = 0
        self._body = bytearray()
        self._trailer_bytes = 0
        self._trailer_count = 0

    def committed(self) -> int:
        """Body bytes decoded so far plus those the current chunk has announced."""
        return len(self._body) + self._remaining

    def feed(self, buf: bytearray) -> bytes | None:
        """Consume from the front of `buf`; the body once the last chunk and trailers are in, else None."""
        while True:
            if self._state == _SIZE:
                line = self._take_line(buf, self._limits.max_chunk_line, "linha de tamanho de bloco longa demais")
                if line is None:
                    return None
                self._start_chunk(line)
            elif self._state == _DATA:
                if not buf:
                    return None
                n = min(self._remaining, len(buf))
                self._body += buf[:n]
                del buf[:n]
                self._remaining -= n
                if self._remaining == 0:
                    self._state = _DATA_END
            elif self._state == _DATA_END:
                # RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
                if buf[:2] == b"\r\n":
                    del buf[:2]
                elif buf[:1] == b"\n":
                    del buf[:1]
                elif buf == b"\r" or not buf:
                    return None
                else:
                    raise BadRequest("bloco do corpo não termina em CRLF")
                self._state = _SIZE
            elif self._state == _TRAILER:
                room = self._limits.max_header_bytes - self._trailer_bytes
                line = self._take_line(buf, room, "trailers grandes demais", HeaderFieldsTooLarge)
                if line is None:
                    return None
                if not line:
                    self._state = _DONE
                    return bytes(self._body)
                self._trailer_bytes += len(line) + 2
                self._trailer_count += 1
                if self._trailer_count > self._limits.max_header_count:
                    raise HeaderFieldsTooLarge("trailers demais")
                parse_fields([line], self._limits)
            else:
                raise RuntimeError("ChunkedDecoder used after the body was complete")

    @staticmethod
    def _take_line(buf: bytearray, limit: int, message: str, error: type[Exception] = BadRequest) -> bytes | None:
        newline = buf.find(b"\n", 0, limit + 2)
        if newline < 0:
            if len(buf) >= limit + 2:
                raise error(message)
            return None
        line = bytes(buf[:newline])
        del buf[: newline + 1]
        line = line[:-1] if line.endswith(b"\r") else line
        if len(line) > limit:
            raise error(message)
        return line

    def _start_chunk(self, line: bytes) -> None:
        match = _CHUNK_LINE.match(line)
        if match is None:
            raise BadRequest("linha de tamanho de bloco inválida")
        digits = match.group(1)
        if len(digits.lstrip(b"0")) > _MAX_CHUNK_SIZE_DIGITS:
            raise PayloadTooLarge("bloco do corpo grande demais")
        size = int(digits, 16)
        if len(self._body) + size > self._max_body:
            raise PayloadTooLarge(f"corpo maior que o limite de {self._max_body} bytes")
        if size == 0:
            self._state = _TRAILER
        else:
            self._remaining = size
            self._state = _DATA


def parse_request_line(line: bytes) -> tuple[str, str, str]:
    """RFC 9112 §3: request-line = method SP request-target SP HTTP-version."""
    parts = line.split(b" ")
    if len(parts) != 3 or not all(parts):
        raise BadRequest("linha de requisição malformada (esperado: método, alvo e versão, como em GET / HTTP/1.1)")
    method, target, version = parts
    match = _VERSION.match(version)
    if match is None:
        raise BadRequest("versão HTTP inválida na linha de requisição")
    major, minor = match.group(1), match.group(2)
    if major != b"1":
        raise VersionNotSupported(f"versão HTTP não suportada: {version.decode('ascii')}")
    if minor is None:
        raise BadRequest("versão HTTP inválida na linha de requisição")
    # Methods are case-sensitive (RFC 9110 §9.1) and every registered one is upper-case.
    if not TOKEN.match(method) or not method.isupper():
        raise BadRequest("método HTTP inválido")
    if not _TARGET.match(target):
        raise BadRequest("alvo da requisição com caracteres inválidos")
    # RFC 9110 §2.5: a 1.x message with a higher minor version is handled as the highest we know.
    text_version = "HTTP/1.0" if minor == b"0" else "HTTP/1.1"
    return method.decode("ascii"), target.decode("ascii"), text_version
