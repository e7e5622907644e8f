"""The server's own routes: /api/v1/saude, /metrics and /api/v1/openapi.json (all open)."""
from __future__ import annotations

from http import HTTPStatus
from typing import Callable

from servidor.api.call import Call, ok
from servidor.api.errors import JSON_CONTENT
from servidor.api.metrics import Metrics
from shared.http.messages import Response

PROMETHEUS_CONTENT = (("content-type", "text/plain; version=0.0.4; charset=utf-8"),)


class SystemRoutes:
    """Handlers that need more than the services: the request counters, the open connections
    (from the network layer, attached once it runs) and the OpenAPI document (built once)."""

    def __init__(self, metrics: Metrics, document: Callable[[], bytes]) -> None:
        self._metrics = metrics
        self._document = document
        self._openapi: Response | None = None
        self.open_connections: Callable[[], int] = lambda: 0

    def health(self, call: Call) -> Response:
        return ok(call.services.system.health())

    def metrics_page(self, call: Call) -> Response:
        text = self._metrics.render(lambda: call.services.system.gauges(self.open_connections()))
        return Response(HTTPStatus.OK, PROMETHEUS_CONTENT, text.encode("utf-8"))

    def get_openapi(self, call: Call) -> Response:
        if self._openapi is None:  # the routes and bounds it reads do not change while running
            self._openapi = Response(HTTPStatus.OK, JSON_CONTENT, self._document())
        return self._openapi
