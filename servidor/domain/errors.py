"""The domain's one exception root: a request the rules refuse.

Each error carries a stable `code` (a pt-BR slug programs can match) and a pt-BR `message` for
people, and nothing about HTTP: servidor/api/errors.py maps each class to a status, once.
"""
from __future__ import annotations


class DomainError(Exception):
    """A request the rules refuse; `code` and `message` travel to the client unchanged."""

    code: str = "requisicao_invalida"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    """Well-formed data that a rule refuses (a field out of range, an unknown tariff); `campo`
    is the path of the offending field when the rule knows it ("versoes[1].vigencia")."""

    code = "dados_invalidos"

    def __init__(self, message: str, *, code: str | None = None, campo: str | None = None) -> None:
        super().__init__(message, code=code)
        self.campo = campo


class NotFound(DomainError):
    code = "nao_encontrado"


class Conflict(DomainError):
    """The request contradicts what exists (an id already taken, the default tariff)."""

    code = "conflito"


class Unauthenticated(DomainError):
    """No key, a malformed Authorization header, or a key nobody issued."""

    code = "nao_autenticado"


class Forbidden(DomainError):
    """A known key without access to this meter or operation."""

    code = "sem_permissao"


class TooCostly(DomainError):
    """A query whose work (periods × span) is past the bound; the message says how to narrow it."""

    code = "consulta_grande_demais"


class TooLarge(DomainError):
    """A payload past its per-item size bound."""

    code = "grande_demais"


class Full(DomainError):
    """A bounded collection (legacy meters) has no room for one more."""

    code = "limite_atingido"


class Busy(DomainError):
    """Capacity for this kind of work is in use; the client retries after `retry_after_s`."""

    code = "ocupado"

    def __init__(self, message: str, *, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s
