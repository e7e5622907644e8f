"""The API's error root and the one place where every refusal becomes an HTTP answer.

Domain errors know no HTTP; `response_for` maps each class to its status here, once. Errors that
exist only because of HTTP (a body that is not JSON, a method a path does not take) are `ApiError`s
and carry their status themselves. Store failures (contract 4) answer 503 with Retry-After. What
`response_for` does not know is a bug, left to the network layer's 500.
"""
from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from servidor.domain.errors import (
    Busy,
    Conflict,
    DomainError,
    Forbidden,
    Full,
    InvalidInput,
    NotFound,
    TooCostly,
    TooLarge,
    Unauthenticated,
)
from servidor.store.errors import StoreError
from servidor.store.readings import StreamDeleted
from shared.contract import error_body
from shared.http.messages import Headers, Response

JSON_CONTENT = (("content-type", "application/json; charset=utf-8"),)
# RFC 9110 §11.6.1: a 401 names the scheme the client must use.
WWW_AUTHENTICATE = (("www-authenticate", 'Bearer realm="monitor-energia"'),)
# A full disk is freed by a person, not in milliseconds: agents retry after half a minute (their
# spool keeps the readings meanwhile).
STORE_RETRY_AFTER_S = 30

# Built once: json.dumps re-creates an encoder for every call with non-default options.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class ApiError(Exception):
    """A refusal that exists only because of HTTP; carries its status and headers."""

    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    code: str = "requisicao_invalida"

    def __init__(self, message: str, *, code: str | None = None, headers: Headers = ()) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers


class MalformedBody(ApiError):
    status = HTTPStatus.BAD_REQUEST
    code = "json_invalido"


class UnsupportedMediaType(ApiError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "tipo_nao_suportado"


class RouteNotFound(ApiError):
    status = HTTPStatus.NOT_FOUND
    code = "nao_encontrado"


class MethodNotAllowed(ApiError):
    status = HTTPStatus.METHOD_NOT_ALLOWED
    code = "metodo_nao_permitido"

    def __init__(self, method: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"Método {method} não é aceito aqui; use {', '.join(allowed)}",
                         headers=(("allow", ", ".join(allowed)),))


# Most specific first: a subclass is looked up along its MRO, so it may override its parent.
DOMAIN_STATUS: dict[type[DomainError], HTTPStatus] = {
    InvalidInput: HTTPStatus.UNPROCESSABLE_ENTITY,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    Unauthenticated: HTTPStatus.UNAUTHORIZED,
    Forbidden: HTTPStatus.FORBIDDEN,
    TooCostly: HTTPStatus.BAD_REQUEST,
    TooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    Full: HTTPStatus.INSUFFICIENT_STORAGE,
    Busy: HTTPStatus.SERVICE_UNAVAILABLE,
    DomainError: HTTPStatus.BAD_REQUEST,
}


def json_response(status: int, payload: Any, headers: Headers = (), *, close: bool = False) -> Response:
    """The one JSON encoding of an answer (UTF-8, compact)."""
    return Response(int(status), JSON_CONTENT + tuple(headers), _encode(payload).encode("utf-8"), close)


def error_response(status: int, code: str, message: str, headers: Headers = (), *, close: bool = False,
                   field: str | None = None) -> Response:
    """An error answer in the suite's envelope (shared.contract.error_body)."""
    return json_response(status, error_body(code, message, field), headers, close=close)


def store_failure(exc: BaseException) -> str | None:
    """The reason of a store that could not do its work (for /saude), None for anything else."""
    if isinstance(exc, StoreError) and not isinstance(exc, StreamDeleted):
        return exc.reason
    return None


def note_store_failure(services: Any, exc: BaseException) -> None:
    """A store that could not do its work degrades /saude (`services.system`) for a while."""
    reason = store_failure(exc)
    if reason is not None:
        services.system.store_failed(reason)


def response_for(exc: BaseException, *, close: bool = False) -> Response | None:
    """The answer for a refusal of the API, the domain or the store; None for anything else."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers, close=close)
    if isinstance(exc, DomainError):
        status = next(DOMAIN_STATUS[k] for k in type(exc).__mro__ if k in DOMAIN_STATUS)
        headers: Headers = ()
        if isinstance(exc, Unauthenticated):
            headers = WWW_AUTHENTICATE
        elif isinstance(exc, Busy):
            headers = (("retry-after", str(exc.retry_after_s)),)
        return error_response(status, exc.code, exc.message, headers, close=close,
                              field=getattr(exc, "campo", None))
    if isinstance(exc, StreamDeleted):
        # The meter was deleted while this request was on its way: nothing was stored.
        return error_response(HTTPStatus.NOT_FOUND, "nao_encontrado", "o medidor foi apagado", close=close)
    if isinstance(exc, StoreError):
        return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "armazenamento_indisponivel",
                              f"armazenamento indisponível: {exc.reason}; tente de novo mais tarde",
                              (("retry-after", str(STORE_RETRY_AFTER_S)),), close=close)
    return None
