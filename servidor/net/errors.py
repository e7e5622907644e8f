"""What the server refuses on its own account (limits, overload, shutdown), as ProtocolErrors.

They join the parser's errors under the one root, `shared.http.errors.ProtocolError`, so the
server hands every condition it answers itself to the same `error_response` callback. Each
carries `Retry-After` (RFC 9110 §10.2.3): the client may try again, later.
"""
from __future__ import annotations

import math
from http import HTTPStatus

from shared.http.errors import ProtocolError


class RetryLater(ProtocolError):
    """A refusal that goes away with time; `retry_after` seconds become the Retry-After header."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "servidor_indisponivel"

    def __init__(self, message: str, retry_after: float) -> None:
        # RFC 9110 §10.2.3: delay-seconds is a whole number; round up so a client that obeys
        # it is not refused again for arriving a fraction too early.
        seconds = max(1, math.ceil(retry_after))
        super().__init__(message, headers=(("retry-after", str(seconds)),))
        self.retry_after = seconds


class TooManyRequests(RetryLater):
    """One client address sent requests faster than its rate limit (RFC 6585 §4)."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "requisicoes_demais"


class TooManyConnections(RetryLater):
    """One client address holds as many connections as it may."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "conexoes_demais"


class Overloaded(RetryLater):
    """The server's connection table is full."""

    code = "servidor_sobrecarregado"


class OutOfDescriptors(RetryLater):
    """The process or the system ran out of file descriptors (EMFILE/ENFILE)."""

    code = "sem_descritores"


class MemoryBudgetExceeded(RetryLater):
    """Request bodies in memory would exceed the server's budget (or this client's share)."""

    code = "memoria_esgotada"


class ShuttingDown(RetryLater):
    code = "servidor_encerrando"

