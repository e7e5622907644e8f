"""What a handler receives: the request, its path parameters, and the caller's identity."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

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
        raw = self.request.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInput(f"{name} deve ser um inteiro") from None
        if not low <= value <= high:
            raise InvalidInput(f"{name} deve estar entre {low} e {high}")
        return value

    def query_float(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.request.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise InvalidInput(f"{name} deve ser um número") from None
        if not low <= value <= high:
            raise InvalidInput(f"{name} deve estar entre {low:g} e {high:g}")
        return value


def now_ms() -> int:
    return int(time.time() * 1000)


def ok(payload: Any, status: int = HTTPStatus.OK, close: bool = False) -> Response:
    return Response.of_json(status, payload, close=close)


def no_content() -> Response:
    return Response(HTTPStatus.NO_CONTENT)
