"""HTTP/1.1 serialization: Response and request values into the exact bytes to write. No I/O.

The serializer owns message framing: any Content-Length or Transfer-Encoding the caller put in the
headers is dropped and recomputed from the body, so the framing can never disagree with it.
"""
from __future__ import annotations

from http import HTTPStatus
from typing import Final

from ._framing import FIELD_VALUE_BAD, TOKEN
from .messages import Headers, Response

# RFC 9110 §10.1.1: the interim answer to `Expect: 100-continue`.
CONTINUE_BYTES: Final = b"HTTP/1.1 100 Continue\r\n\r\n"

# Headers derived from the body and connection state, never taken from the caller.
_FRAMING = frozenset({"content-length", "transfer-encoding"})
# RFC 9110 §8.6: "A user agent SHOULD send Content-Length in a request when the method defines a
# meaning for enclosed content and it is not sending Transfer-Encoding", even when it is zero;
# POST, PUT and PATCH are the methods that do.
_METHODS_WITH_CONTENT = frozenset({"POST", "PUT", "PATCH"})


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")


# Every registered status has its line built once; an unregistered one is built when used.
_STATUS_LINES: Final = {int(s): _status_line(int(s)) for s in HTTPStatus}
# Validated header lines by (name, value). An app sends the same few headers over and over
# (content-type, allow, CORS), so most lines are a lookup instead of two regex passes. Bounded:
# emptied when full, so varying values (a Location per meter) cannot grow it without limit.
_FIELD_CACHE_SIZE: Final = 512
_field_cache: dict[tuple[str, str], bytes] = {}


def _field_line(name: str, value: str) -> bytes:
    """One `name: value\\r\\n`; ValueError on anything that could split the message."""
    raw_name = name.encode("ascii", "replace")
    if not TOKEN.match(raw_name):
        raise ValueError(f"invalid header name: {name!r}")
    try:
        raw_value = value.strip(" \t").encode("latin-1")
    except UnicodeEncodeError:
        # RFC 9110 §5.5: field values are octets; only latin-1 maps them back one to one.
        raise ValueError(f"header {name!r} is not representable in ISO-8859-1: {value!r}") from None
    if FIELD_VALUE_BAD.search(raw_value):
        # A CR or LF here would let a value inject headers or a whole second response; other
        # controls would be refused by the peer's parser (ours included).
        raise ValueError(f"control characters in header {name!r}: {value!r}")
    return raw_name + b": " + raw_value + b"\r\n"


def field_line(name: str, value: str) -> bytes:
    """`_field_line` through the cache of lines already validated."""
    key = (name, value)
    line = _field_cache.get(key)
    if line is None:
        line = _field_line(name, value)
        if len(_field_cache) >= _FIELD_CACHE_SIZE:
            _field_cache.clear()
        _field_cache[key] = line
    return line


def serialize_response(
    resp: Response,
    *,
    head_only: bool = False,
    keep_alive: bool = True,
    extra_headers: Headers = (),
    extra_lines: bytes = b"",
) -> bytes:
    """The status line, headers and body of `resp`.

    `head_only` answers a HEAD: same headers, Content-Length of the body a GET would get, no body
    (RFC 9110 §9.3.2). `keep_alive=False` adds `connection: close` (RFC 9112 §9.6), replacing any
    Connection header the app set. `extra_lines` are complete header lines the caller built and
    checked itself (the server's own Date and Server). Raises ValueError for a header that would
    break framing.
    """
    status = int(resp.status)
    line = _STATUS_LINES.get(status)
    parts = [line if line is not None else _status_line(status)]
    for name, value in resp.headers + extra_headers if extra_headers else resp.headers:
        lowered = name.lower()
        if lowered in _FRAMING or (not keep_alive and lowered == "connection"):
            continue
        parts.append(field_line(name, value))
    if extra_lines:
        parts.append(extra_lines)
    # RFC 9110 §15.2, §15.3.5, §15.4.5: 1xx, 204 and 304 responses never contain content.
    no_body = status < 200 or status == 204 or status == 304
    if not no_body:
        parts.append(b"content-length: %d\r\n" % len(resp.body))
    parts.append(b"\r\n" if keep_alive else b"connection: close\r\n\r\n")
    if not head_only and not no_body:
        parts.append(resp.body)
    return b"".join(parts)


def serialize_request(
    method: str,
    target: str,
    headers: Headers,
    body: bytes = b"",
    *,
    chunked: bool = False,
) -> bytes:
    """A request with framing added: Content-Length, or the body as one chunk when `chunked`.

    The caller supplies Host (RFC 9112 §3.2 requires it in HTTP/1.1); HttpClient does.
    Raises ValueError for a method, target or header that would break the request line.
    """
    if not TOKEN.match(method.encode("ascii", "replace")):
        raise ValueError(f"invalid method: {method!r}")
    if not target or not target.isascii() or any(c.isspace() or not c.isprintable() for c in target):
        raise ValueError(f"invalid request target: {target!r}")
    parts = [f"{method} {target} HTTP/1.1\r\n".encode("ascii")]
    for name, value in headers:
        if name.lower() in _FRAMING:
            continue
        parts.append(field_line(name, value))
    if chunked:
        parts.append(b"transfer-encoding: chunked\r\n\r\n")
        if body:
            # RFC 9112 §7.1: chunk = chunk-size CRLF chunk-data CRLF; last-chunk = "0" CRLF.
            parts.append(b"%x\r\n" % len(body))
            parts.append(body)
            parts.append(b"\r\n")
        parts.append(b"0\r\n\r\n")
        return b"".join(parts)
    if body or method in _METHODS_WITH_CONTENT:
        parts.append(b"content-length: %d\r\n" % len(body))
    parts.append(b"\r\n")
    parts.append(body)
    return b"".join(parts)
