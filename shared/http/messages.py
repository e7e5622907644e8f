"""Request and Response values: what crosses between the protocol code, the server and the app."""
from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .json_body import decode_json

Headers = tuple[tuple[str, str], ...]


# Built once: json.dumps with options builds an encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_JSON_TYPE = ("content-type", "application/json; charset=utf-8")
_JSON_ONLY: Headers = (_JSON_TYPE,)

_new = object.__new__
_set = object.__setattr__


def _check_names(headers: Headers) -> None:
    for name, _ in headers:
        if name != name.lower():
            raise ValueError(f"header names must be lower-case: {name!r}")


def _find(headers: Headers, name: str) -> str | None:
    name = name.lower()
    for key, value in headers:
        if key == name:
            return value
    return None


@dataclass(frozen=True, slots=True)
class Request:
    """A complete request. Header names are lower-cased; the body is already de-chunked."""

    method: str
    target: str
    version: str = "HTTP/1.1"
    headers: Headers = ()
    body: bytes = b""

    def __post_init__(self) -> None:
        if not self.method or not self.method.isupper():
            raise ValueError(f"method must be an upper-case token: {self.method!r}")
        if not self.target:
            raise ValueError("target must not be empty")
        _check_names(self.headers)

    @classmethod
    def trusted(cls, method: str, target: str, version: str, headers: Headers, body: bytes) -> "Request":
        """A Request from fields already validated (by the parser), without checking them again."""
        request = _new(cls)
        _set(request, "method", method)
        _set(request, "target", target)
        _set(request, "version", version)
        _set(request, "headers", headers)
        _set(request, "body", body)
        return request

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        return _find(self.headers, name)

    @property
    def path(self) -> str:
        """The percent-decoded path without the query string."""
        target = self.target
        if target[0] == "/":
            # Origin-form (RFC 9112 §3.2.1), nearly every request: no need for urlsplit, which
            # would also read a leading "//" as an authority.
            path = target.partition("?")[0].partition("#")[0]
            return unquote(path) if "%" in path else path
        return unquote(urlsplit(target).path) or "/"

    @property
    def query(self) -> dict[str, str]:
        """Query parameters; the first value wins when one repeats."""
        out: dict[str, str] = {}
        for key, value in parse_qsl(urlsplit(self.target).query, keep_blank_values=True):
            out.setdefault(key, value)
        return out

    @property
    def keep_alive(self) -> bool:
        """RFC 9112 §9.3: HTTP/1.1 persists unless `close`; HTTP/1.0 only with `keep-alive`."""
        connection = self.header("connection")
        if connection is None:
            return self.version != "HTTP/1.0"
        tokens = {t.strip().lower() for t in connection.split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens

    def json(self) -> Any:
        """The body decoded as UTF-8 JSON within named bounds (depth, integer digits, valid
        Unicode: see json_body); raises ValueError with a readable pt-BR reason."""
        return decode_json(self.body)


@dataclass(frozen=True, slots=True)
class Response:
    """A response as the app builds it. The serializer adds Content-Length and framing."""

    status: int
    headers: Headers = ()
    body: bytes = b""
    # Set by the app for responses after which the connection must close (004 clients read until close).
    close: bool = False

    def __post_init__(self) -> None:
        if not 100 <= int(self.status) <= 599:
            raise ValueError(f"status out of range: {self.status}")
        _check_names(self.headers)

    @classmethod
    def trusted(cls, status: int, headers: Headers, body: bytes, close: bool = False) -> "Response":
        """A Response from fields the caller knows valid (an int status in range, lower-case
        header names), without checking them again: for answers built on every request."""
        response = _new(cls)
        _set(response, "status", status)
        _set(response, "headers", headers)
        _set(response, "body", body)
        _set(response, "close", close)
        return response

    def header(self, name: str) -> str | None:
        return _find(self.headers, name)

    @property
    def reason(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Unknown"

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @classmethod
    def of_json(cls, status: int, payload: Any, headers: Headers = (), close: bool = False) -> "Response":
        body = _ENCODER.encode(payload).encode("utf-8")
        return cls(int(status), (_JSON_TYPE, *headers) if headers else _JSON_ONLY, body, close)

