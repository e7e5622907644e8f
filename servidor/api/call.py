"""What a handler receives: the request, its path parameters, and the caller's identity."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Callable

from shared.http.messages import Request, Response
from servidor.domain.auth import Principal
from servidor.errors import InvalidInput, MalformedBody, UnsupportedMediaType

if TYPE_CHECKING:
    from servidor.app import App


@dataclass(slots=True)
class Call:
    app: "App"
    request: Request
    params: dict[str, str]
    _principal: Principal | None = field(default=None, init=False)
    _identified: bool = field(default=False, init=False)

    @property
    def principal(self) -> Principal | None:
        """The caller by its Bearer key (None without one; a wrong key raises 401)."""
        if not self._identified:
            self._principal = self.app.keys.identify(self.request.header("authorization"))
            self._identified = True
        return self._principal

    def json(self) -> Any:
        ctype = (self.request.header("content-type") or "application/json").split(";")[0].strip().lower()
        if ctype not in ("application/json", "text/json") and not ctype.endswith("+json"):
            raise UnsupportedMediaType(f"envie JSON (Content-Type: application/json), não {ctype}")
        if not self.request.body.strip():
            raise MalformedBody("o corpo está vazio; envie um objeto JSON")
        try:
            return self.request.json()
        except ValueError as exc:
            raise MalformedBody(str(exc)) from None

    def query_int(self, name: str, default: int, low: int, high: int) -> int:
        return self._query_number(name, default, low, high, int, "um inteiro")

    def query_float(self, name: str, default: float, low: float, high: float) -> float:
        return self._query_number(name, default, low, high, float, "um número")

    def _query_number(self, name: str, default: Any, low: Any, high: Any, kind: Callable[[str], Any], noun: str) -> Any:
        raw = self.request.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise InvalidInput(f"{name} deve ser {noun}") from None
        if not low <= value <= high:  # NaN fails this too
            raise InvalidInput(f"{name} deve estar entre {low:g} e {high:g}")
        return value


def now_ms() -> int:
    return int(time.time() * 1000)


def ok(payload: Any, status: int = HTTPStatus.OK, close: bool = False) -> Response:
    return Response.of_json(status, payload, close=close)


def no_content() -> Response:
    return Response(HTTPStatus.NO_CONTENT)
