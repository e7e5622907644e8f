"""One error root for the HTTP protocol layer; each subclass carries the status to answer with.

Raised deep in the parser and by the server's policies (servidor.net.errors), and turned into a
response exactly once, by the server's `error_response` callback: this package builds no bodies.
"""
from __future__ import annotations

from http import HTTPStatus

Headers = tuple[tuple[str, str], ...]


class ProtocolError(Exception):
    """A request the server answers itself, without the app.

    `status` is what to answer, `code` a stable pt-BR slug and `message` a pt-BR sentence for
    whoever reads the answer; `headers` go into it too (e.g. Retry-After).
    """

    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    code: str = "requisicao_invalida"

    def __init__(self, message: str, *, headers: Headers = ()) -> None:
        super().__init__(message)
        self.message = message
        self.headers: Headers = tuple(headers)


class BadRequest(ProtocolError):
    status = HTTPStatus.BAD_REQUEST
    code = "requisicao_invalida"


class RequestTimeout(ProtocolError):
    status = HTTPStatus.REQUEST_TIMEOUT
    code = "tempo_esgotado"


class PayloadTooLarge(ProtocolError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "corpo_grande_demais"


class UriTooLong(ProtocolError):
    status = HTTPStatus.REQUEST_URI_TOO_LONG
    code = "uri_longa_demais"


class HeaderFieldsTooLarge(ProtocolError):
    status = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
    code = "cabecalhos_grandes_demais"


class ExpectationFailed(ProtocolError):
    status = HTTPStatus.EXPECTATION_FAILED
    code = "expectativa_nao_suportada"


class NotImplementedByServer(ProtocolError):
    """An unsupported Transfer-Encoding (RFC 9112 §6.1: answer 501)."""

    status = HTTPStatus.NOT_IMPLEMENTED
    code = "nao_implementado"


class VersionNotSupported(ProtocolError):
    status = HTTPStatus.HTTP_VERSION_NOT_SUPPORTED
    code = "versao_nao_suportada"


class ResponseError(ProtocolError):
    """A client got bytes that are not a valid HTTP/1.1 response."""

    status = HTTPStatus.BAD_GATEWAY
    code = "resposta_invalida"
