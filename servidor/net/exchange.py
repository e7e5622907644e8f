"""Answering one request without touching a socket: call the handler, map failures, encode.

The network layer builds no error bodies: every condition it answers itself (a ProtocolError)
and every exception a handler lets escape goes to the `error_response` callback given to the
server, exactly once. Without one, a short plain-text answer is used.
"""
from __future__ import annotations

import logging
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Callable, Union

from shared.http.errors import ProtocolError
from shared.http.messages import Headers, Request, Response
from shared.http.serializer import field_line, serialize_response

from .deferred import Deferred

log = logging.getLogger("servidor.net")

Handler = Callable[[Request], Union[Response, Deferred]]
ErrorResponse = Callable[[BaseException], Response]

# When even the error callback fails: a fixed answer that cannot fail in turn.
LAST_RESORT = Response(HTTPStatus.INTERNAL_SERVER_ERROR, (("content-type", "text/plain; charset=utf-8"),),
                       b"Internal Server Error\n")


def plain_error_response(exc: BaseException) -> Response:
    """The default `error_response`: the status and, for a ProtocolError, its message as text."""
    if isinstance(exc, ProtocolError):
        return Response(exc.status, (("content-type", "text/plain; charset=utf-8"),) + exc.headers,
                        f"{exc.message}\n".encode("utf-8"))
    return LAST_RESORT


def error_answer(error_response: ErrorResponse, exc: BaseException) -> Response:
    """`error_response(exc)`, guarded: a callback that fails or returns junk is a logged 500."""
    try:
        response = error_response(exc)
    except Exception:
        log.exception("error_response falhou para %r", exc)
        return LAST_RESORT
    if isinstance(response, Response):
        return response
    log.error("error_response devolveu %r para %r; esperava um Response", type(response).__name__, exc)
    return LAST_RESORT


def call_handler(handler: Handler, request: Request, error_response: ErrorResponse) -> Response | Deferred:
    """The handler's answer, or `error_response`'s for what it raised; never raises an Exception.

    The app answers its own errors (its 4xx); whatever escapes is a bug unless the callback
    says otherwise: when its answer is a 5xx the traceback goes to the log, and the client gets
    that answer, never internals.
    """
    try:
        result = handler(request)
    except Exception as exc:
        response = error_answer(error_response, exc)
        if int(response.status) >= HTTPStatus.INTERNAL_SERVER_ERROR:
            log.error("o tratador falhou em %s %s", request.method, request.target, exc_info=exc)
        return response
    if isinstance(result, (Response, Deferred)):
        return result
    log.error("o tratador devolveu %r para %s %s; esperava Response ou Deferred",
              type(result).__name__, request.method, request.target)
    return error_answer(error_response, TypeError(f"handler returned {type(result).__name__}"))


class Encoder:
    """Response values into bytes, with the server's own headers added.

    RFC 9110 §6.6.1: an origin server with a clock sends Date; it changes once a second, so its
    line is built once a second. The server-wide headers (Server, CORS) are validated once, at
    construction, and added to every answer that does not set them itself.
    """

    def __init__(self, default_headers: Headers) -> None:
        self._defaults = tuple(default_headers)
        self._default_names = frozenset(name for name, _ in self._defaults)
        self._default_lines = b"".join(field_line(name, value) for name, value in self._defaults)
        self._second = -1
        self._date_line = b""

    def _date(self) -> bytes:
        now = time.time()
        second = int(now)
        if second != self._second:
            # Two workers may both rebuild it at a second's turn; both build the same line.
            self._date_line = b"date: " + formatdate(now, usegmt=True).encode("ascii") + b"\r\n"
            self._second = second
        return self._date_line

    def encode(self, response: Response, request: Request | None, *, keep_alive: bool) -> bytes:
        """The bytes for `response` to `request` (None when no request could be parsed).

        RFC 9110 §9.3.2: the answer to HEAD carries the headers GET would, Content-Length
        included, and no body. Raises ValueError for a header that would break framing.
        """
        lines = self._default_lines
        date = True
        for name, _ in response.headers:
            if name == "date" or name in self._default_names:
                date, lines = self._merge(response)
                break
        if date:
            lines = self._date() + lines
        if keep_alive and request is not None and request.version == "HTTP/1.0":
            # RFC 9112 §9.3 / RFC 7230 Appendix A.1.2: an HTTP/1.0 client keeps the connection
            # only if the response says keep-alive; without it, it would wait for our close.
            lines += b"connection: keep-alive\r\n"
        head_only = request is not None and request.method == "HEAD"
        return serialize_response(response, head_only=head_only, keep_alive=keep_alive, extra_lines=lines)

    def _merge(self, response: Response) -> tuple[bool, bytes]:
        """(whether Date is still owed, the default lines the response did not set itself)."""
        names = {name for name, _ in response.headers}
        lines = b"".join(field_line(name, value) for name, value in self._defaults if name not in names)
        return "date" not in names, lines
