"""A small router: path patterns with named segments, 404 for unknown paths, 405 with Allow."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from servidor.errors import MethodNotAllowed, NotFound

Handler = Callable[..., Any]
_SEGMENT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Route:
    path: str  # the template, e.g. /api/v1/medidores/{id}: the label metrics use
    pattern: re.Pattern[str]
    methods: dict[str, Handler]


@dataclass(frozen=True, slots=True)
class Match:
    handler: Handler
    params: dict[str, str]
    route: str


def compile_path(path: str) -> re.Pattern[str]:
    """`/api/v1/medidores/{id}` → a regex whose groups are the segments (no '/' inside one)."""
    return re.compile(_SEGMENT.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", path))  # used with fullmatch


class Router:
    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, path: str, **methods: Handler) -> None:
        """`add("/x/{id}", GET=fn, PUT=fn)`; HEAD follows GET, OPTIONS is answered for every path."""
        self._routes.append(Route(path, compile_path(path), {m.upper(): h for m, h in methods.items()}))

    def resolve(self, method: str, path: str) -> Match:
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match is None:
                continue
            wanted = "GET" if method == "HEAD" else method
            handler = route.methods.get(wanted)
            if handler is None:
                raise MethodNotAllowed(method, self.allowed(route))
            return Match(handler, match.groupdict(), route.path)
        raise NotFound(f"nada em {path}; a API fica em /api/v1 (veja /api/v1/saude)")

    def route_for(self, path: str) -> Route | None:
        return next((r for r in self._routes if r.pattern.fullmatch(path)), None)

    @staticmethod
    def allowed(route: Route) -> tuple[str, ...]:
        methods = list(route.methods)
        if "GET" in methods:
            methods.append("HEAD")
        return tuple(methods) + ("OPTIONS",)
