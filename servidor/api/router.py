"""A small router: fixed paths by dictionary, templated ones by segment, 404 and 405 with Allow.

Templates name their variable segments: `/api/v1/medidores/{id}/leituras`. A fixed path is one
dictionary lookup; a templated one walks a tree of segments, literal segments before variables,
so the work per request grows with the path's depth, not with the number of routes. Paths seen
recently are remembered (a meter posts to the same path every time), up to MAX_REMEMBERED.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from servidor.api.errors import MethodNotAllowed, RouteNotFound

Handler = Callable[..., Any]
_VARIABLE = re.compile(r"\{(\w+)\}")
# Paths whose route is remembered: a fleet of meters' ingest paths fit; a client sending endless
# distinct paths only empties the memory now and then.
MAX_REMEMBERED = 4096


@dataclass(frozen=True, slots=True)
class Route:
    path: str                   # the template: what metrics and the OpenAPI document name
    methods: dict[str, Handler]
    legacy: bool = False        # one of system 004's routes: answers close the connection
    allow: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        methods = list(self.methods)
        if "GET" in methods:
            methods.append("HEAD")
        object.__setattr__(self, "allow", tuple(methods) + ("OPTIONS",))


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    handler: Handler
    params: dict[str, str]


class _Node:
    __slots__ = ("literal", "variable", "name", "route")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.variable: _Node | None = None
        self.name = ""
        self.route: Route | None = None


class Router:
    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._fixed: dict[str, Route] = {}
        self._tree = _Node()
        self._remembered: dict[str, tuple[Route, dict[str, str]] | None] = {}

    def add(self, path: str, *, legacy: bool = False, **methods: Handler) -> None:
        """`add("/x/{id}", GET=fn, PUT=fn)`; HEAD follows GET, OPTIONS is answered for every path."""
        route = Route(path, {m.upper(): h for m, h in methods.items()}, legacy)
        self._routes.append(route)
        self._remembered.clear()
        if not _VARIABLE.search(path):
            self._fixed[path] = route
            return
        node = self._tree
        for segment in path.strip("/").split("/"):
            variable = _VARIABLE.fullmatch(segment)
            if variable is None:
                node = node.literal.setdefault(segment, _Node())
                continue
            if node.variable is None:
                node.variable = _Node()
                node.variable.name = variable.group(1)
            elif node.variable.name != variable.group(1):
                raise ValueError(f"{path}: a variable at this position is already named {node.variable.name}")
            node = node.variable
        if path.endswith("/") and len(path) > 1:
            # Tesla Analyzer's routes end in "/": the empty last segment is part of the path.
            node = node.literal.setdefault("", _Node())
        if node.route is not None:
            raise ValueError(f"{path} is registered twice")
        node.route = route

    def routes(self) -> tuple[Route, ...]:
        """Every route in the order it was added."""
        return tuple(self._routes)

    def find(self, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route serving `path` and its variables (a dict the caller must not change), or None."""
        route = self._fixed.get(path)
        if route is not None:
            return route, {}
        try:
            return self._remembered[path]
        except KeyError:
            pass
        segments = path[1:].split("/") if path.startswith("/") else []
        params: dict[str, str] = {}
        found = _walk(self._tree, segments, 0, params)
        result = (found, params) if found is not None else None
        if len(self._remembered) >= MAX_REMEMBERED:
            self._remembered.clear()
        self._remembered[path] = result
        return result

    def resolve(self, method: str, path: str) -> Match:
        found = self.find(path)
        if found is None:
            raise RouteNotFound(f"nada em {path}; a API fica em /api/v1 (veja /api/v1/saude)")
        route, params = found
        handler = route.methods.get("GET" if method == "HEAD" else method)
        if handler is None:
            raise MethodNotAllowed(method, route.allow)
        return Match(route, handler, params)


def _walk(node: _Node, segments: list[str], i: int, params: dict[str, str]) -> Route | None:
    if i == len(segments):
        return node.route
    segment = segments[i]
    if not segment:  # an empty segment ("//") matches nothing, as `[^/]+` did, but a final "/" may
        child = node.literal.get("") if i + 1 == len(segments) else None
        return None if child is None else _walk(child, segments, i + 1, params)
    child = node.literal.get(segment)
    if child is not None:
        found = _walk(child, segments, i + 1, params)
        if found is not None:
            return found
    if node.variable is not None:
        found = _walk(node.variable, segments, i + 1, params)
        if found is not None:
            params[node.variable.name] = segment
            return found
    return None
