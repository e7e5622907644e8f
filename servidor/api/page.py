"""The page for browsers: `GET /` asking for HTML gets a self-contained live dashboard."""
from __future__ import annotations

from functools import lru_cache
from http import HTTPStatus
from importlib import resources

from shared.http.messages import Request, Response


@lru_cache(maxsize=1)
def _page() -> bytes:
    return resources.files("servidor.web").joinpath("painel.html").read_bytes()


def wants_html(request: Request) -> bool:
    """A browser navigating to / (Accept lists text/html); 004's menu client sends no Accept."""
    return request.path == "/" and request.method in ("GET", "HEAD") and "id" not in request.query \
        and "text/html" in (request.header("accept") or "")


def page() -> Response:
    return Response(HTTPStatus.OK, (
        ("content-type", "text/html; charset=utf-8"),
        # The page's script and style are inline; nothing else may load or frame it.
        ("content-security-policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
        ("cache-control", "no-cache"),
    ), _page())
