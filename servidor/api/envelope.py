"""Servidor's answer for what the network layer answers itself: the `error_response` callback.

`servidor.net.HttpServer` calls it for every condition it meets without the app (parse errors,
408, 413, 429, 503 for overload, shutdown, memory budget or descriptors) and for whatever a
handler let escape. A ProtocolError becomes the API's JSON envelope with its status, code,
message and headers (Retry-After); an API, domain or store error that escaped the dispatcher
gets the answer the dispatcher would have given (`response_for`); anything else is a bug, a bare
500 that shows no internals (the network layer logs its traceback).
"""
from __future__ import annotations

from http import HTTPStatus

from servidor.api.errors import error_response as envelope, response_for
from shared.http.errors import ProtocolError
from shared.http.messages import Response

INTERNAL_CODE = "erro_interno"
INTERNAL_MESSAGE = "Erro interno do servidor"


def error_response(exc: BaseException) -> Response:
    """The JSON error answer for `exc` (see the module's docstring)."""
    if isinstance(exc, ProtocolError):
        return envelope(exc.status, exc.code, exc.message, exc.headers)
    answer = response_for(exc)
    if answer is not None:
        return answer
    return envelope(HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_CODE, INTERNAL_MESSAGE)
