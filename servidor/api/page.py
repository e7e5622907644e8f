"""The page for browsers: `GET /` asking for HTML gets a self-contained live dashboard."""
from __future__ import annotations

from functools import lru_cache
from http import HTTPStatus
from importlib import resources

from servidor.api.call import Call
from servidor.api.errors import RouteNotFound
from shared.http.messages import Request, Response

_HEADERS = (
    ("content-type", "text/html; charset=utf-8"),
    # The page's script and style are inline; nothing else may load or frame it.
    ("content-security-policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    ("cache-control", "no-cache"),
)


@lru_cache(maxsize=1)
def _page() -> Response:
    return Response(HTTPStatus.OK, _HEADERS, resources.files("servidor.web").joinpath("painel.html").read_bytes())


def wants_html(request: Request) -> bool:
    """A browser navigating to / (Accept lists text/html); 004's menu client sends no Accept."""
    return "text/html" in (request.header("accept") or "") and "id" not in request.query


def page(call: Call) -> Response:
    """GET /: the page for a browser; anything else finds nothing here."""
    if not wants_html(call.request):
        raise RouteNotFound("nada em /; a API fica em /api/v1 (veja /api/v1/saude)")
    return _page()
