"""One error root for the API layer; the connection loop turns it into a JSON error body."""
from __future__ import annotations

from http import HTTPStatus

from shared.http.messages import Headers


class ApiError(Exception):
    """A request the API refuses. Carries the status, a stable `code` and a pt-BR message."""

    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    code: str = "requisicao_invalida"

    def __init__(self, message: str, *, code: str | None = None, headers: Headers = ()) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers


class InvalidInput(ApiError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "dados_invalidos"


class MalformedBody(ApiError):
    status = HTTPStatus.BAD_REQUEST
    code = "json_invalido"


class Unauthorized(ApiError):
    status = HTTPStatus.UNAUTHORIZED
    code = "nao_autenticado"

    def __init__(self, message: str) -> None:
        # RFC 9110 §11.6.1: a 401 carries WWW-Authenticate naming the scheme.
        super().__init__(message, headers=(("www-authenticate", 'Bearer realm="monitor-energia"'),))


class Forbidden(ApiError):
    status = HTTPStatus.FORBIDDEN
    code = "sem_permissao"


class NotFound(ApiError):
    status = HTTPStatus.NOT_FOUND
    code = "nao_encontrado"


class MethodNotAllowed(ApiError):
    status = HTTPStatus.METHOD_NOT_ALLOWED
    code = "metodo_nao_permitido"

    def __init__(self, method: str, allowed: tuple[str, ...]) -> None:
        super().__init__(
            f"Método {method} não é aceito aqui; use {', '.join(allowed)}",
            headers=(("allow", ", ".join(allowed)),),
        )


class Conflict(ApiError):
    status = HTTPStatus.CONFLICT
    code = "conflito"


class UnsupportedMediaType(ApiError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "tipo_nao_suportado"


class StoreUnavailable(ApiError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "armazenamento_indisponivel"
