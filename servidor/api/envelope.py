"""Servidor's error answers: the JSON envelope for what the network layer answers itself.

`error_response` is the callback given to `servidor.net.HttpServer`: it turns a ProtocolError
(parse errors, 408, 413, 429, 503 ...) into {"erro": {"codigo": ..., "mensagem": ...}} with its
headers, and anything else that escaped a handler into a bare 500 that shows no internals.
`error` builds the same envelope for the API's own answers.
"""
from __future__ import annotations

from http import HTTPStatus

from shared.contract import error_body
from shared.http.errors import ProtocolError
from shared.http.messages import Headers, Response

INTERNAL_CODE = "erro_interno"
INTERNAL_MESSAGE = "Erro interno do servidor"


def error(status: int, code: str, message: str, headers: Headers = (), close: bool = False) -> Response:
    """An error answer of the API: the envelope as JSON, with `headers`."""
    return Response.of_json(status, error_body(code, message), headers, close)


def error_response(exc: BaseException) -> Response:
    """The answer for a condition the network layer could not hand to the app, or a bug."""
    if isinstance(exc, ProtocolError):
        return error(exc.status, exc.code, exc.message, exc.headers)
    described = _described_error(exc)
    if described is not None:
        return described
    return error(HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_CODE, INTERNAL_MESSAGE)


def _described_error(exc: BaseException) -> Response | None:
    """An app error that carries its own status, code and message (servidor.errors.ApiError).

    The API dispatcher answers these itself (the contract between the layers); until every
    path does, one that escapes still gets its own answer rather than a 500.
    """
    status, code, message = (getattr(exc, name, None) for name in ("status", "code", "message"))
    if not (isinstance(status, int) and isinstance(code, str) and isinstance(message, str)):
        return None
    try:
        return error(status, code, message, tuple(getattr(exc, "headers", ()) or ()))
    except (TypeError, ValueError):
        return None
