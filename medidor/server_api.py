"""The server's API as the agent uses it, over the suite's one HTTP client (keep-alive, raw socket).

Every failure is one of two kinds: `Unreachable` (try again later: no connection, a timeout, a
5xx, an answer that is not HTTP) or `Refused` (the server understood and said no: a wrong key,
a deleted meter, an invalid request; trying again unchanged will not help).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Sequence
from urllib.parse import quote

from shared.contract import API_PREFIX, decode_error
from shared.http import ResponseError
from shared.http_client import HttpClient
from shared.http.messages import Response

# A whole request (connect, send up to ~400 KiB, the server's fsync, the answer) within this.
# The server fsyncs before answering, so a loaded disk may take seconds; longer means trouble.
REQUEST_TIMEOUT_S = 15.0
# Statuses worth retrying: the server is overloaded, restarting, or timed out on its side.
_RETRYABLE = {HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS}


class ServerError(Exception):
    """Root of the agent's server errors. `status` is the HTTP status, or None without an answer."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Unreachable(ServerError):
    """No usable answer now; retry with backoff."""


class Refused(ServerError):
    """The server answered and refused; the message says why."""


@dataclass(frozen=True, slots=True)
class RemoteCommand:
    comando: str
    valor: float | None = None
    id: str = ""

    @classmethod
    def from_json(cls, obj: Any) -> "RemoteCommand | None":
        if not isinstance(obj, dict) or not isinstance(obj.get("comando"), str):
            return None
        value = obj.get("valor")
        return cls(obj["comando"], float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None,
                   str(obj.get("id", "")))


@dataclass(frozen=True, slots=True)
class IngestAnswer:
    aceitas: int
    duplicadas: int
    ultimo_seq: int | None
    comandos: tuple[RemoteCommand, ...] = ()
    # Each: {"indice", "seq", "motivo"} — readings the server will never accept.
    rejeitadas: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class MeterKeys:
    chave_escrita: str
    chave_leitura: str


def _error_message(response: Response) -> tuple[str, str | None]:
    """(message, code) of an error answer; a body that is not the API's envelope (a proxy's
    page) is quoted, shortened."""
    code, message = decode_error(response.body)
    if message is not None:
        return message, code
    text = response.body[:200].decode("utf-8", "replace").strip()
    return text or response.reason, None


class MeterApi:
    """One meter's view of the server. Not thread-safe (one HttpClient): the sender thread owns it.

    With `fallbacks` (servers sharing one database), a request that gets no usable answer is sent
    to the next server at once, each server tried once; the agent then stays on the one that
    answered. Resending is safe: the server stores a reading once by its seq."""

    def __init__(self, base_url: str, meter_id: str, *, timeout: float = REQUEST_TIMEOUT_S,
                 fallbacks: Sequence[str] = ()) -> None:
        self._urls = (base_url.rstrip("/"), *(url.rstrip("/") for url in fallbacks))
        self._timeout = timeout
        self.base_url = self._urls[0]
        self.meter_id = meter_id
        self._client = HttpClient(self.base_url, timeout=timeout)
        self._meter_path = f"{API_PREFIX}/medidores/{quote(meter_id, safe='')}"

    def close(self) -> None:
        self._client.close()

    def _next_server(self) -> None:
        self._client.close()
        self.base_url = self._urls[(self._urls.index(self.base_url) + 1) % len(self._urls)]
        self._client = HttpClient(self.base_url, timeout=self._timeout)

    def _call(self, method: str, path: str, key: str, *, json_body: Any = None, body: bytes | None = None,
              expect: tuple[int, ...] = (HTTPStatus.OK,)) -> Response:
        untried = len(self._urls) - 1
        while True:
            try:
                return self._call_one(method, path, key, json_body=json_body, body=body, expect=expect)
            except Unreachable:
                if not untried:
                    raise
                untried -= 1
                self._next_server()

    def _call_one(self, method: str, path: str, key: str, *, json_body: Any, body: bytes | None,
                  expect: tuple[int, ...]) -> Response:
        headers: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {key}"),)
        if body is not None:
            headers += (("content-type", "application/json; charset=utf-8"),)
        try:
            response = self._client.request(method, path, json=json_body, body=body, headers=headers)
        except TimeoutError as exc:
            raise Unreachable(str(exc) or "tempo esgotado") from exc
        except OSError as exc:
            raise Unreachable(str(exc) or exc.__class__.__name__) from exc
        except ResponseError as exc:
            raise Unreachable(f"resposta inválida do servidor: {exc}") from exc
        if response.status in expect:
            return response
        message, code = _error_message(response)
        if response.status >= 500 or response.status in _RETRYABLE:
            raise Unreachable(f"servidor respondeu {response.status}: {message}", response.status, code)
        raise Refused(message, response.status, code)

    def register(self, registration_key: str, fields: dict[str, Any]) -> MeterKeys:
        """POST /medidores: creates this meter; its keys are shown only in this answer."""
        response = self._call("POST", f"{API_PREFIX}/medidores", registration_key, json_body={"id": self.meter_id, **fields},
                              expect=(HTTPStatus.CREATED,))
        doc = response.json()
        return MeterKeys(doc["chave_escrita"], doc["chave_leitura"])

    def get_meter(self, write_key: str) -> dict[str, Any]:
        return self._call("GET", self._meter_path, write_key).json()

    def put_meter(self, write_key: str, fields: dict[str, Any]) -> dict[str, Any]:
        """PUT replaces every editable field: send them all (see Sender._update)."""
        return self._call("PUT", self._meter_path, write_key, json_body=fields).json()

    def post_readings(self, write_key: str, payloads: Sequence[bytes]) -> IngestAnswer:
        """POST a batch of readings, each already serialized as JSON (as the spool keeps them)."""
        body = b'{"leituras":[' + b",".join(payloads) + b"]}"
        response = self._call("POST", f"{self._meter_path}/leituras", write_key, body=body)
        try:
            doc = response.json()
            commands = tuple(c for c in (RemoteCommand.from_json(o) for o in doc.get("comandos", ())) if c)
            return IngestAnswer(int(doc["aceitas"]), int(doc["duplicadas"]), doc.get("ultimo_seq"), commands,
                                tuple(doc.get("rejeitadas", ())))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise Unreachable(f"resposta inesperada ao enviar leituras: {exc}") from exc

    def pending_commands(self, write_key: str) -> tuple[RemoteCommand, ...]:
        """The meter's queued commands, without taking them (the next ingest answer hands them
        over again; the agent recognises them by id)."""
        doc = self._call("GET", f"{self._meter_path}/comandos", write_key).json()
        return tuple(c for c in (RemoteCommand.from_json(o) for o in doc.get("comandos", ())) if c)

    def raise_alert(self, write_key: str, tipo: str, mensagem: str, chave: str) -> None:
        self._call("POST", f"{self._meter_path}/alertas", write_key,
                   json_body={"tipo": tipo, "mensagem": mensagem, "chave": chave},
                   expect=(HTTPStatus.OK, HTTPStatus.CREATED))


def reading_payload(obj: dict[str, Any]) -> bytes:
    """The compact JSON a reading is spooled and sent as."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
