"""Answering one request without touching a socket: call the handler, map its failures, encode.

This is where the handler's exceptions become JSON error bodies, once, for the whole server.
"""
from __future__ import annotations

import logging
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Callable, Union

from shared.http.errors import ProtocolError
from shared.http.messages import Headers, Request, Response
from shared.http.serializer import serialize_response

from .deferred import Deferred

log = logging.getLogger("servidor.net")

Handler = Callable[[Request], Union[Response, Deferred]]

INTERNAL_ERROR = Response.error(HTTPStatus.INTERNAL_SERVER_ERROR, "erro_interno", "Erro interno do servidor")


def call_handler(
    handler: Handler, request: Request, error_types: tuple[type[Exception], ...]
) -> Response | Deferred:
    """The handler's answer, or the JSON error for what it raised; never raises an Exception.

    `error_types` (the app's error root) carry `.status`, `.code`, `.message` and maybe
    `.headers` (e.g. Allow on a 405) and keep the connection open. Anything else is a bug:
    its traceback goes to the log and the client gets a bare 500, never internals.
    """
    try:
        result = handler(request)
    except error_types as exc:
        return app_error(exc)
    except Exception:
        log.exception("handler failed on %s %s", request.method, request.target)
        return INTERNAL_ERROR
    if isinstance(result, (Response, Deferred)):
        return result
    log.error("handler returned %r for %s %s; expected Response or Deferred",
              type(result).__name__, request.method, request.target)
    return INTERNAL_ERROR


def app_error(exc: Exception) -> Response:
    """The JSON error response for one of the app's declared error types."""
    try:
        return Response.error(
            int(getattr(exc, "status")),
            str(getattr(exc, "code")),
            str(getattr(exc, "message")),
            headers=tuple(getattr(exc, "headers", ()) or ()),
        )
    except Exception:
        # A malformed error object (bad status, upper-case header) is a bug like any other.
        log.exception("could not build an error response from %r", exc)
        return INTERNAL_ERROR


def protocol_error(exc: ProtocolError) -> Response:
    """The parser's verdict as JSON; the stream cannot be trusted after it, so close."""
    return Response.error(exc.status, exc.code, exc.message, close=True)


def timeout_error() -> Response:
    """408 for a request that started but did not complete within Limits.read_timeout."""
    return Response.error(
        HTTPStatus.REQUEST_TIMEOUT, "tempo_esgotado",
        "A requisição não foi concluída a tempo", close=True,
    )


def overloaded_error() -> Response:
    return Response.error(
        HTTPStatus.SERVICE_UNAVAILABLE, "servidor_sobrecarregado",
        "Conexões demais abertas; tente novamente", headers=(("retry-after", "1"),), close=True,
    )


def shutting_down_error() -> Response:
    return Response.error(
        HTTPStatus.SERVICE_UNAVAILABLE, "servidor_encerrando",
        "O servidor está sendo encerrado", headers=(("retry-after", "5"),), close=True,
    )


def encode(
    response: Response,
    request: Request | None,
    *,
    keep_alive: bool,
    default_headers: Headers,
) -> bytes:
    """The response bytes for `request` (None when no request could be parsed).

    RFC 9110 §9.3.2: the answer to HEAD carries the headers GET would, Content-Length
    included, and no body. RFC 9110 §6.6.1: an origin server with a clock sends Date.
    """
    extra: list[tuple[str, str]] = []
    if response.header("date") is None:
        extra.append(("date", formatdate(time.time(), usegmt=True)))
    for name, value in default_headers:  # server-wide headers (Server, CORS) the app did not set
        if response.header(name) is None:
            extra.append((name, value))
    if keep_alive and request is not None and request.version == "HTTP/1.0":
        # RFC 9112 §9.3 / RFC 7230 Appendix A.1.2: an HTTP/1.0 client keeps the connection
        # only if the response says keep-alive; without it, it would wait for our close.
        extra.append(("connection", "keep-alive"))
    head_only = request is not None and request.method == "HEAD"
    return serialize_response(response, head_only=head_only, keep_alive=keep_alive, extra_headers=tuple(extra))
