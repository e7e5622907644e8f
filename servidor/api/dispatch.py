"""From a Request to a Response: route, call the handler, turn every refusal into its answer.

The network layer sees only answers and bugs: every error of the API, the domain or the store
becomes its JSON error response here (servidor/api/errors.py); anything else propagates, and
the network layer answers 500. Each request is counted for /metrics by its route template.
"""
from __future__ import annotations

import time
from http import HTTPStatus

from servidor.api.call import Call, NotInline
from servidor.api.errors import MethodNotAllowed, RouteNotFound, note_store_failure, response_for
from servidor.api.metrics import Metrics
from servidor.api.router import Route, Router
from servidor.domain.services import Services
from servidor.net import Deferred
from shared.contract import API_PREFIX
from shared.http.messages import Request, Response

# Browsers and Postman read the API from any origin; the server adds this to every response.
CORS = (("access-control-allow-origin", "*"),)
CORS_PREFLIGHT = (
    ("access-control-allow-methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS"),
    ("access-control-allow-headers", "authorization, content-type"),
    ("access-control-max-age", "86400"),
)
UNKNOWN_ROUTE = "(desconhecida)"
_API = API_PREFIX + "/"
_METERS, _READINGS = API_PREFIX + "/medidores/", "/leituras"
# One plain reading is under 200 bytes of JSON; anything much larger is a batch or carries blinks.
INLINE_BODY_MAX = 512


class Dispatcher:
    def __init__(self, services: Services, router: Router, metrics: Metrics) -> None:
        self._services = services
        self._router = router
        self._metrics = metrics
        self._preflight: dict[str, Response] = {}
        self._with_legacy = services.legacy is not None

    def handle(self, request: Request) -> Response | Deferred:
        """The answer to `request`: a Response, or a Deferred for a long poll."""
        return self._handle(request, False)

    def handle_inline(self, request: Request) -> Response | Deferred | None:
        """As `handle`, in the network layer's own thread (see `inline_route`): None when the
        request must wait for something, and so goes to `handle` in a worker."""
        try:
            return self._handle(request, True)
        except NotInline:
            return None

    @staticmethod
    def inline_route(request: Request) -> bool:
        """Worth trying `handle_inline` (it may still decline): an agent's POST of one reading.
        A larger body (a batch) goes straight to a worker: decoding it only to decline it would
        cost the selector thread, and everyone waiting on it, a whole JSON parse."""
        return (request.method == "POST" and len(request.body) <= INLINE_BODY_MAX
                and request.target.endswith(_READINGS) and request.target.startswith(_METERS))

    def _handle(self, request: Request, inline: bool) -> Response | Deferred:
        started = time.perf_counter()
        target = request.target
        # Most targets are a bare path (an agent's POST): no query to split, nothing to decode.
        plain = target.startswith("/") and "?" not in target and "%" not in target
        path = target if plain else request.path
        found = self._router.find(path)
        route = found[0] if found is not None else None
        label = route.path if route is not None else UNKNOWN_ROUTE
        try:
            result = self._dispatch(request, path, found, inline)
        except NotInline:
            raise
        except Exception as exc:
            # 004's clients read until the server closes, so their errors close too.
            closes = route.legacy if route is not None else self._with_legacy and not path.startswith(_API)
            answer = response_for(exc, close=closes)
            if answer is None:
                self._metrics.observe(label, request.method, HTTPStatus.INTERNAL_SERVER_ERROR,
                                      time.perf_counter() - started)
                raise
            note_store_failure(self._services, exc)
            result = answer
        if isinstance(result, Deferred):
            method = request.method
            result.add_callback(lambda response: self._metrics.observe(label, method, response.status,
                                                                       time.perf_counter() - started))
        else:
            self._metrics.observe(label, request.method, result.status, time.perf_counter() - started)
        return result

    def _dispatch(self, request: Request, path: str, found: tuple[Route, dict[str, str]] | None,
                  inline: bool = False) -> Response | Deferred:
        if found is None:
            raise RouteNotFound(f"nada em {path[:200]}; a API fica em {API_PREFIX} (veja {API_PREFIX}/saude)")
        route, params = found
        method = request.method
        if method == "OPTIONS":
            return self._options(route)
        handler = route.methods.get("GET" if method == "HEAD" else method)
        if handler is None:
            raise MethodNotAllowed(method, route.allow)
        return handler(Call(self._services, request, inline), **params)

    def _options(self, route: Route) -> Response:
        answer = self._preflight.get(route.path)
        if answer is None:
            allow = (("allow", ", ".join(route.allow)),)
            # blipserver's and 004's browser users expect a plain 200 with what is allowed.
            answer = Response(HTTPStatus.OK, allow) if route.legacy else \
                Response(HTTPStatus.NO_CONTENT, allow + CORS_PREFLIGHT)
            self._preflight[route.path] = answer
        return answer
