"""What a handler receives: the domain's services, the request, and the caller's identity."""
from __future__ import annotations

import time
from http import HTTPStatus
from typing import Any, Callable

from servidor.api.body import decode_json
from servidor.api.errors import MalformedBody, UnsupportedMediaType, json_response
from servidor.domain.auth import Principal
from servidor.domain.errors import InvalidInput
from servidor.domain.services import Services
from shared.http.messages import Request, Response

_JSON_TYPES = frozenset({"application/json", "text/json"})
_NO_CONTENT = Response(HTTPStatus.NO_CONTENT)


class Call:
    """One request on its way through a handler. The principal and the query string are
    worked out on first use and kept."""

    __slots__ = ("services", "request", "inline", "_principal", "_identified", "_query")

    def __init__(self, services: Services, request: Request, inline: bool = False) -> None:
        self.services = services
        self.request = request
        # Handled in the network layer's own thread: a handler must not wait (on a disk, a lock
        # held long) and raises NotInline to be run by a worker instead (dispatch.handle_inline).
        self.inline = inline
        self._principal: Principal | None = None
        self._identified = False
        self._query: dict[str, str] | None = None

    @property
    def principal(self) -> Principal | None:
        """The caller by its Bearer key (None without one; a wrong key raises Unauthenticated)."""
        if not self._identified:
            self._principal = self.services.keys.identify(self.request.header("authorization"))
            self._identified = True
        return self._principal

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            self._query = self.request.query
        return self._query

    def json(self) -> Any:
        ctype = self.request.header("content-type")
        if ctype is not None and ctype not in _JSON_TYPES:
            ctype = ctype.split(";", 1)[0].strip().lower()
            if ctype not in _JSON_TYPES and not ctype.endswith("+json"):
                raise UnsupportedMediaType(f"envie JSON (Content-Type: application/json), não {ctype}")
        body = self.request.body
        if not body or body.isspace():  # isspace, unlike strip, copies nothing
            raise MalformedBody("o corpo está vazio; envie um objeto JSON")
        return decode_json(body)

    def query_int(self, name: str, default: int, low: int, high: int) -> int:
        return self._query_number(name, default, low, high, int, "um inteiro")

    def query_float(self, name: str, default: float, low: float, high: float) -> float:
        return self._query_number(name, default, low, high, float, "um número")

    def _query_number(self, name: str, default: Any, low: Any, high: Any, kind: Callable[[str], Any], noun: str) -> Any:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        if len(raw) > 32:  # no bound here needs more digits; int() of a long text is slow
            raise InvalidInput(f"{name} deve ser {noun} entre {low:g} e {high:g}")
        try:
            value = kind(raw)
        except ValueError:
            raise InvalidInput(f"{name} deve ser {noun}") from None
        if not low <= value <= high:  # NaN fails this too
            raise InvalidInput(f"{name} deve estar entre {low:g} e {high:g}")
        return value


class NotInline(Exception):
    """This request must wait for something: run it in a worker thread (Call.inline)."""


def now_ms() -> int:
    return int(time.time() * 1000)


def ok(payload: Any, status: int = HTTPStatus.OK) -> Response:
    return json_response(status, payload)


def no_content() -> Response:
    return _NO_CONTENT
