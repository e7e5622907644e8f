"""The terminal app's one family of API errors, and how an error answer becomes one of them."""
from __future__ import annotations

import json
from http import HTTPStatus
from typing import Callable, TypeVar
from urllib.parse import urlsplit, urlunsplit

from shared.contract import API_PREFIX, decode_error
from shared.http.errors import ResponseError
from shared.http.messages import Response

T = TypeVar("T")


class ApiError(Exception):
    """Root of what an API call raises. `message` is pt-BR and fit to show as is."""

    status: int | None = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ServerUnreachable(ApiError):
    """No answer: connection refused or dropped, timeout, or bytes that are not HTTP."""


class Unauthorized(ApiError):
    status = HTTPStatus.UNAUTHORIZED


class Forbidden(ApiError):
    status = HTTPStatus.FORBIDDEN


class NotFound(ApiError):
    status = HTTPStatus.NOT_FOUND


class RequestFailed(ApiError):
    """Any other refusal (400, 409, 422, 5xx…), or an answer whose JSON is not the documented one."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status


_BY_STATUS: dict[int, type[ApiError]] = {
    HTTPStatus.UNAUTHORIZED: Unauthorized, HTTPStatus.FORBIDDEN: Forbidden, HTTPStatus.NOT_FOUND: NotFound,
}


def normalize_base_url(text: str) -> str:
    """`http://host:port` from what a person types: no scheme means http, and a trailing /api/v1
    (the address the server prints at startup) is dropped. ValueError (pt-BR) if unusable."""
    text = text.strip()
    if not text:
        raise ValueError("informe o endereço do servidor, por exemplo http://127.0.0.1:5000")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme != "http":
        raise ValueError(f"só http:// é suportado, não {parts.scheme}://")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        raise ValueError(f"porta inválida em {text}") from None
    if not parts.hostname:
        raise ValueError(f"endereço sem host: {text}")
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return urlunsplit(("http", parts.netloc, path, "", ""))


def _error_from(response: Response) -> ApiError:
    code, message = decode_error(response.body)
    if message is None:
        message = f"o servidor respondeu {response.status} {response.reason}"
    field = _error_field(response.body)
    if field:
        message = f"{message} (campo {field})"
    kind = _BY_STATUS.get(response.status)
    if kind is not None:
        return kind(message, code=code)
    return RequestFailed(message, code=code, status=response.status)


def _error_field(body: bytes) -> str | None:
    """The refused field's path an error answer may name (`erro.campo`)."""
    try:
        field = json.loads(body)["erro"].get("campo")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return field if isinstance(field, str) else None


def _parse(build: Callable[[], T]) -> T:
    """Run a model's from_json; a shape the models do not know is the server's fault, not ours."""
    try:
        return build()
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise RequestFailed(f"resposta inesperada do servidor: {exc!r}") from None


def _unreachable_message(base_url: str, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"o servidor {base_url} não respondeu a tempo"
    if isinstance(exc, ResponseError):
        return f"{base_url} respondeu algo que não é HTTP: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return f"nada escuta em {base_url} (conexão recusada)"
    return f"não foi possível falar com {base_url}: {exc}"


def describe_auth_problem(error: ApiError, *, action: str = "") -> str:
    """What key is needed, said plainly, for a 401 or 403 (other errors: their own message)."""
    if isinstance(error, Unauthorized):
        return ("A chave foi recusada (desconhecida ou revogada). Use a chave de administração "
                "(MONITOR_CHAVE_ADMIN do servidor) ou a chave de leitura de um medidor (ml_…).")
    if isinstance(error, Forbidden):
        what = f" para {action}" if action else ""
        return f"Esta chave não basta{what}: {error.message}."
    return error.message
