"""The suite's one HTTP client socket module: a keep-alive HTTP/1.1 client on a raw socket.

Framing is done by serialize_request and ResponseParser; this module only moves bytes.
Not thread-safe: a client owns one socket and one in-flight request, so use one client per thread
(the meter agent's sender thread, each Textual worker).
"""
from __future__ import annotations

import json as jsonlib
import select
import socket
import time
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from shared.http.errors import ResponseError
from shared.http.limits import DEFAULT_LIMITS, Limits
from shared.http.messages import Headers, Response
from shared.http.response_parser import ResponseParser
from shared.http.serializer import serialize_request

# One read of this size covers a typical JSON answer; larger bodies just take more reads.
_READ_SIZE = 64 * 1024
_USER_AGENT = "monitor-energia/0.1"
# RFC 9110 §9.2.2: repeating these has the same effect as sending them once.
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})


class _NoAnswer(Exception):
    """The connection failed before any byte of the response arrived; maybe worth one retry."""

    def __init__(self, error: OSError, *, unsent: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.unsent = unsent


class HttpClient:
    """A keep-alive client for one `http://host[:port][/prefix]` server.

    `timeout` bounds each whole request (connect, send and the complete response) in seconds.
    Errors: TimeoutError when it expires, ConnectionError (an OSError) when the server cannot be
    reached or drops the connection, ResponseError when it answers something that is not HTTP.
    """

    def __init__(self, base_url: str, *, timeout: float = 10, headers: Headers = (), limits: Limits = DEFAULT_LIMITS) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http":
            raise ValueError(f"only http:// URLs are supported, got {base_url!r}")
        if not parts.hostname:
            raise ValueError(f"URL without a host: {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._prefix = parts.path.rstrip("/")
        host = f"[{self._host}]" if ":" in self._host else self._host
        # RFC 9112 §3.2: Host is required; the port is left out when it is the scheme default.
        host_field = host if parts.port in (None, 80) else f"{host}:{self._port}"
        self._default_headers: Headers = (("host", host_field), ("user-agent", _USER_AGENT))
        self._default_headers = _merge(self._default_headers, headers)
        self._timeout = timeout
        self._limits = limits
        self._sock: socket.socket | None = None

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the kept-alive connection, if any; the client reconnects on its next request."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        json: Any = None,
        headers: Headers = (),
    ) -> Response:
        """Send one request and return the complete response (any status; no raise on 4xx/5xx)."""
        if body is not None and json is not None:
            raise ValueError("pass body or json, not both")
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        fields = self._default_headers
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            fields = _merge(fields, (("content-type", "application/json; charset=utf-8"),))
        fields = _merge(fields, headers)
        method = method.upper()
        data = serialize_request(method, self._prefix + path, fields, body or b"")
        deadline = time.monotonic() + self._timeout

        reused = self._sock is not None
        if reused and self._peer_closed():
            # The server closed the idle connection (its keep-alive timeout) before we wrote:
            # nothing was sent, so a fresh connection is safe for any method.
            self.close()
            reused = False
        try:
            return self._exchange(method, data, deadline)
        except _NoAnswer as failure:
            self.close()
            # The race the check above cannot see: the server closed just as we wrote. RFC 9112
            # §9.3.1: "A user agent MUST NOT automatically retry a request with a non-idempotent
            # method unless it has some means to know ... that the original request was never
            # applied"; a failed write is such a means, a silent close after it is not.
            if not reused or not (failure.unsent or method in _IDEMPOTENT):
                raise failure.error from None
        try:
            return self._exchange(method, data, deadline)
        except _NoAnswer as failure:
            self.close()
            raise failure.error from None

    # -- internals -----------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self._host}:{self._port}"

    def _remaining(self, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            self.close()
            raise TimeoutError(f"tempo esgotado ({self._timeout} s) falando com {self._where()}")
        return left

    def _connect(self, deadline: float) -> socket.socket:
        try:
            sock = socket.create_connection((self._host, self._port), timeout=self._remaining(deadline))
        except TimeoutError:
            raise TimeoutError(f"tempo esgotado conectando a {self._where()}") from None
        except ConnectionError:
            raise
        except OSError as exc:
            # DNS failures (socket.gaierror) and unreachable networks: one family for callers.
            raise ConnectionError(f"não foi possível conectar a {self._where()}: {exc}") from exc
        # Requests go out in one write; there is nothing for Nagle's algorithm to coalesce.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        return sock

    def _peer_closed(self) -> bool:
        """Whether the idle kept-alive socket is readable: EOF, a reset, or stray bytes. All unusable."""
        assert self._sock is not None
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def _exchange(self, method: str, data: bytes, deadline: float) -> Response:
        sock = self._sock or self._connect(deadline)
        try:
            sock.settimeout(self._remaining(deadline))
            sock.sendall(data)
        except TimeoutError:
            self.close()
            raise TimeoutError(f"tempo esgotado enviando a requisição a {self._where()}") from None
        except OSError as exc:
            raise _NoAnswer(_as_connection_error(exc, self._where()), unsent=True) from exc
        parser = ResponseParser(self._limits)
        received = 0
        while True:
            try:
                response = parser.next_response(head=method == "HEAD")
            except ResponseError:
                self.close()
                raise
            if response is not None:
                break
            try:
                sock.settimeout(self._remaining(deadline))
                chunk = sock.recv(_READ_SIZE)
            except TimeoutError:
                self.close()
                raise TimeoutError(f"tempo esgotado esperando a resposta de {self._where()}") from None
            except OSError as exc:
                error = _as_connection_error(exc, self._where())
                if received == 0:
                    raise _NoAnswer(error, unsent=False) from exc
                self.close()
                raise error from exc
            if not chunk and received == 0:
                raise _NoAnswer(
                    ConnectionResetError(f"{self._where()} fechou a conexão sem responder"), unsent=False
                )
            if chunk:
                received += len(chunk)
                parser.receive(chunk)
            else:
                parser.receive_eof()
        if response.close:
            self.close()
        return response


def _merge(base: Headers, overrides: Headers) -> Headers:
    """`base` with each header named in `overrides` replaced by the override's values."""
    lowered = tuple((name.lower(), value) for name, value in overrides)
    names = {name for name, _ in lowered}
    return tuple(h for h in base if h[0] not in names) + lowered


def _as_connection_error(exc: OSError, where: str) -> ConnectionError:
    if isinstance(exc, ConnectionError):
        return exc
    return ConnectionError(f"falha de conexão com {where}: {exc}")
