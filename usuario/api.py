"""The API as the terminal app and the menu use it: methods that return `usuario.models` values
and raise one small ApiError family, so no screen ever sees HTTP.

Built on `shared.http_client.HttpClient`, which owns one socket and is not thread-safe. Textual
runs each thread worker on some executor thread, so instead of one client per thread this keeps
a small pool: a call takes an idle client (or makes one), and gives it back when the answer is
complete. Two workers never share a socket, and kept-alive connections are reused across calls.
"""
from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta
from http import HTTPStatus
from typing import Any, Callable, TypeVar
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from shared.contract import API_PREFIX, decode_error
from shared.http_client import HttpClient
from shared.http.errors import ResponseError
from shared.http.messages import Response

from .billing_models import Comparison, Invoice, InvoiceVersion, Tariff
from .models import (
    Alert, Command, Consumption, LegacyMeter, LiveBatch, LiveReading, Meter, MeterKey, MeterList, COMMANDS,
    INTERVALS,
)

# Every ordinary call answers in milliseconds on a healthy server; 10 s tells a dead one from a
# slow one without leaving a worker (and the banner) waiting long after the server went away.
REQUEST_TIMEOUT_S = 10.0
# A long poll legitimately takes its whole `espera`; this much more is allowed for the answer.
LONG_POLL_MARGIN_S = 5.0
# Idle kept-alive connections kept for reuse; a screen runs at most a few calls at once.
MAX_IDLE_CONNECTIONS = 4
# Readings fetched for a chart of one day: a day of 10-s readings (8640) fits; the API's page
# limit is 10 000.
DAY_READINGS = 10_000

T = TypeVar("T")
HOUR = timedelta(hours=1)


class ApiError(Exception):
    """Root of what an API call raises. `message` is pt-BR and fit to show as is."""

    status: int | None = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ServerUnreachable(ApiError):
    """No answer: connection refused or dropped, timeout, or bytes that are not HTTP."""


class Unauthorized(ApiError):
    status = HTTPStatus.UNAUTHORIZED


class Forbidden(ApiError):
    status = HTTPStatus.FORBIDDEN


class NotFound(ApiError):
    status = HTTPStatus.NOT_FOUND


class RequestFailed(ApiError):
    """Any other refusal (400, 409, 422, 5xx…), or an answer whose JSON is not the documented one."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status


_BY_STATUS: dict[int, type[ApiError]] = {
    HTTPStatus.UNAUTHORIZED: Unauthorized, HTTPStatus.FORBIDDEN: Forbidden, HTTPStatus.NOT_FOUND: NotFound,
}


def normalize_base_url(text: str) -> str:
    """`http://host:port` from what a person types: no scheme means http, and a trailing /api/v1
    (the address the server prints at startup) is dropped. ValueError (pt-BR) if unusable."""
    text = text.strip()
    if not text:
        raise ValueError("informe o endereço do servidor, por exemplo http://127.0.0.1:5000")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme != "http":
        raise ValueError(f"só http:// é suportado, não {parts.scheme}://")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        raise ValueError(f"porta inválida em {text}") from None
    if not parts.hostname:
        raise ValueError(f"endereço sem host: {text}")
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return urlunsplit(("http", parts.netloc, path, "", ""))


def _error_from(response: Response) -> ApiError:
    code, message = decode_error(response.body)
    if message is None:
        message = f"o servidor respondeu {response.status} {response.reason}"
    field = _error_field(response.body)
    if field:
        message = f"{message} (campo {field})"
    kind = _BY_STATUS.get(response.status)
    if kind is not None:
        return kind(message, code=code)
    return RequestFailed(message, code=code, status=response.status)


def _error_field(body: bytes) -> str | None:
    """The refused field's path an error answer may name (`erro.campo`)."""
    try:
        field = json.loads(body)["erro"].get("campo")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return field if isinstance(field, str) else None


def _parse(build: Callable[[], T]) -> T:
    """Run a model's from_json; a shape the models do not know is the server's fault, not ours."""
    try:
        return build()
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise RequestFailed(f"resposta inesperada do servidor: {exc!r}") from None


class ApiClient:
    """The API for one server and one key. Thread-safe: each call uses a connection of its own."""

    def __init__(self, base_url: str, key: str | None, *, timeout: float = REQUEST_TIMEOUT_S) -> None:
        self.base_url = normalize_base_url(base_url)
        self.key = key.strip() if key else None
        self._timeout = timeout
        self._lock = threading.Lock()
        self._idle: list[HttpClient] = []
        self._closed = False

    @property
    def is_meter_key(self) -> bool:
        """Whether the key has the shape of a meter's read key (`ml_…`), which only reads its meter
        and queues its commands: the app hides what only the admin may do instead of failing late."""
        return bool(self.key) and self.key.startswith("ml_")

    # -- connections ------------------------------------------------------------------------------

    def _headers(self) -> tuple[tuple[str, str], ...]:
        headers = [("accept", "application/json")]
        if self.key:
            headers.append(("authorization", f"Bearer {self.key}"))
        return tuple(headers)

    def _take(self) -> HttpClient:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return HttpClient(self.base_url, timeout=self._timeout)

    def _give_back(self, client: HttpClient) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append(client)
                return
        client.close()

    def close(self) -> None:
        """Close the idle connections; calls in flight close theirs when they finish."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for client in idle:
            client.close()

    def request(self, method: str, path: str, *, body: Any = None, client: HttpClient | None = None) -> Response:
        """One exchange; any status comes back. Transport failures raise ServerUnreachable."""
        own = client is None
        http = self._take() if client is None else client
        try:
            response = http.request(method, path, json=body, headers=self._headers())
        except (OSError, ResponseError) as exc:  # ConnectionError and TimeoutError are OSErrors
            http.close()
            raise ServerUnreachable(_unreachable_message(self.base_url, exc)) from None
        if own:
            self._give_back(http)
        return response

    def _json(self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = (HTTPStatus.OK,)) -> Any:
        response = self.request(method, path, body=body)
        if response.status not in expect:
            raise _error_from(response)
        try:
            return response.json()
        except ValueError:
            raise RequestFailed("o servidor respondeu algo que não é JSON") from None

    # -- the API ----------------------------------------------------------------------------------

    def health(self) -> None:
        """Whether the server answers at all (no key needed); raises ApiError if not."""
        self._json("GET", f"{API_PREFIX}/saude")

    def meters(self) -> MeterList:
        data = self._json("GET", f"{API_PREFIX}/medidores")
        return _parse(lambda: MeterList.from_json(data))

    def meter(self, meter_id: str) -> Meter:
        data = self._json("GET", _meter_path(meter_id))
        return _parse(lambda: Meter.from_json(data))

    def consumption(self, meter_id: str, interval: str, start: date, end: date) -> Consumption:
        """kWh per hour, day or month over the local days [start, end], both included; given naive
        local datetimes, over the hours that start at `start` through `end`, both included (the
        last 24 hours cross midnight)."""
        if interval not in INTERVALS:
            raise ValueError(f"intervalo deve ser um de {INTERVALS}")
        if isinstance(start, datetime) and isinstance(end, datetime):
            # Naive local times: the server reads them in the meter's zone; `ate` is exclusive.
            span = {"de": start.isoformat(timespec="minutes"), "ate": (end + HOUR).isoformat(timespec="minutes")}
        else:
            span = {"de": start.isoformat(), "ate": end.isoformat()}
        query = urlencode({"intervalo": interval, **span})
        data = self._json("GET", f"{_meter_path(meter_id)}/consumo?{query}")
        return _parse(lambda: Consumption.from_json(data))

    def site_consumption(self, site_id: str, interval: str, start: date, end: date) -> dict[str, Any]:
        """A site's energy per hour, day or month (the server's `ConsumoDoSite` answer, as JSON)."""
        query = urlencode({"intervalo": interval, "de": start.isoformat(), "ate": end.isoformat()})
        data = self._json("GET", f"{API_PREFIX}/sites/{quote(site_id, safe='')}/consumo?{query}")
        return _parse(lambda: _checked_site(data))

    def invoices(self, meter_id: str) -> tuple[Invoice, ...]:
        """Every billing cycle with readings, newest first as the server lists them."""
        return self.invoice_listing(meter_id)[0]

    def invoice_listing(self, meter_id: str) -> tuple[tuple[Invoice, ...], str | None]:
        """The invoices and, for a meter without an energy bill (production, water…), why."""
        data = self._json("GET", f"{_meter_path(meter_id)}/faturas")
        return _parse(lambda: (tuple(Invoice.from_json(i) for i in data["faturas"]),
                               None if data.get("sem_fatura") is None else str(data["sem_fatura"])))

    def invoice(self, meter_id: str, cycle: str) -> Invoice:
        data = self._json("GET", f"{_meter_path(meter_id)}/faturas/{quote(cycle, safe='')}")
        return _parse(lambda: Invoice.from_json(data))

    def invoice_versions(self, meter_id: str, cycle: str) -> tuple[InvoiceVersion, ...]:
        """The issued versions of a closed cycle's invoice, newest first."""
        data = self._json("GET", f"{_meter_path(meter_id)}/faturas/{quote(cycle, safe='')}/versoes")
        return _parse(lambda: tuple(InvoiceVersion.from_json(v) for v in data["versoes"]))

    def compare_tariffs(self, meter_id: str, cycles: int = 12) -> Comparison:
        data = self._json("GET", f"{_meter_path(meter_id)}/comparar-tarifas?ciclos={int(cycles)}")
        return _parse(lambda: Comparison.from_json(data))

    def alerts(self, meter_id: str) -> tuple[Alert, ...]:
        data = self._json("GET", f"{_meter_path(meter_id)}/alertas")
        return _parse(lambda: tuple(Alert.from_json(a) for a in data["alertas"]))

    def acknowledge(self, meter_id: str, alert_id: str) -> Alert:
        data = self._json("POST", f"{_meter_path(meter_id)}/alertas/{quote(alert_id, safe='')}/reconhecer")
        return _parse(lambda: Alert.from_json(data))

    def send_command(self, meter_id: str, verb: str, value: float | None = None) -> Command:
        """Queue a remote command; the server applies it to the meter's record at once (202)."""
        if verb not in COMMANDS:
            raise ValueError(f"comando deve ser um de {COMMANDS}")
        body: dict[str, Any] = {"comando": verb}
        if value is not None:
            body["valor"] = value
        data = self._json("POST", f"{_meter_path(meter_id)}/comandos", body, expect=(HTTPStatus.ACCEPTED, HTTPStatus.OK))
        return _parse(lambda: Command.from_json(data))

    def tariff(self, tariff_id: str) -> Tariff:
        data = self._json("GET", f"{API_PREFIX}/tarifas/{quote(tariff_id, safe='')}")
        return _parse(lambda: Tariff.from_json(data))

    def rename_tariff(self, tariff: Tariff, name: str) -> Tariff:
        """The tariff with a new name, versions unchanged (admin key only: others get Forbidden)."""
        body = {**tariff.raw, "nome": name}
        data = self._json("PUT", f"{API_PREFIX}/tarifas/{quote(tariff.id, safe='')}", body)
        return _parse(lambda: Tariff.from_json(data))

    def save_version(self, tariff_id: str, vigencia: str | None, version: dict[str, Any]) -> Tariff:
        """Replace the version in force from `vigencia`, or add one after the last (None)."""
        base = f"{API_PREFIX}/tarifas/{quote(tariff_id, safe='')}/versoes"
        if vigencia is None:
            data = self._json("POST", base, version, expect=(HTTPStatus.CREATED,))
        else:
            data = self._json("PUT", f"{base}/{quote(vigencia, safe='')}", version)
        return _parse(lambda: Tariff.from_json(data))

    def delete_version(self, tariff_id: str, vigencia: str) -> Tariff:
        data = self._json("DELETE", f"{API_PREFIX}/tarifas/{quote(tariff_id, safe='')}/versoes/{quote(vigencia, safe='')}")
        return _parse(lambda: Tariff.from_json(data))

    def legacy_meter(self, meter_id: str) -> LegacyMeter:
        """A 004 meter through its own route, `GET /?id=`, exactly as 004's menu asked for it."""
        data = self._json("GET", "/?" + urlencode({"id": meter_id}))
        return _parse(lambda: LegacyMeter.from_json(meter_id, data))

    def meter_keys(self, meter_id: str) -> tuple[MeterKey, ...]:
        """The meter's keys by role and public id (admin key only)."""
        data = self._json("GET", f"{_meter_path(meter_id)}/chaves")
        return _parse(lambda: tuple(MeterKey.from_json(k) for k in data["chaves"]))

    def replace_keys(self, meter_id: str, roles: tuple[str, ...]) -> dict[str, str]:
        """New keys for `roles` ("escrita", "leitura"); the old ones stop working. Returns
        {"chave_escrita": ..., ...}: shown once, the server keeps only their hashes."""
        data = self._json("POST", f"{_meter_path(meter_id)}/chaves", {"papeis": list(roles)},
                          expect=(HTTPStatus.CREATED,))
        return {k: str(v) for k, v in data.items() if k.startswith("chave_")}

    def revoke_key(self, meter_id: str, role: str) -> None:
        response = self.request("DELETE", f"{_meter_path(meter_id)}/chaves/{quote(role, safe='')}")
        if response.status != HTTPStatus.NO_CONTENT:
            raise _error_from(response)

    def readings(self, meter_id: str, start: datetime, limit: int = DAY_READINGS) -> tuple[LiveReading, ...]:
        """Raw readings from `start` on (at most `limit`: a day of 10-s readings is 8640)."""
        query = urlencode({"de": int(start.timestamp() * 1000), "limite": limit})
        data = self._json("GET", f"{_meter_path(meter_id)}/leituras?{query}")
        return _parse(lambda: tuple(LiveReading.from_json(r) for r in data["leituras"]))

    def live(self) -> "LiveSession":
        return LiveSession(self)


class LiveSession:
    """Long polls of `ao-vivo` on a connection of their own, held by one thread at a time.

    Kept out of the pool because a long poll holds its connection for the whole wait, and its
    timeout must outlast that wait.
    """

    def __init__(self, api: ApiClient) -> None:
        self._api = api
        self._client: HttpClient | None = None
        self._client_wait: float | None = None

    def poll(self, meter_id: str, after_seq: int | None, wait_s: float) -> LiveBatch:
        """Readings after `after_seq` (None: only ones newer than now), or an empty batch if none
        arrived within `wait_s`."""
        if self._client is None or self._client_wait != wait_s:
            self.close()
            self._client = HttpClient(self._api.base_url, timeout=wait_s + LONG_POLL_MARGIN_S)
            self._client_wait = wait_s
        params = {"espera": f"{wait_s:g}"}
        if after_seq is not None:
            params["apos"] = str(after_seq)
        response = self._api.request("GET", f"{_meter_path(meter_id)}/ao-vivo?{urlencode(params)}", client=self._client)
        if response.status == HTTPStatus.NO_CONTENT:
            return LiveBatch((), after_seq if after_seq is not None else -1)
        if response.status != HTTPStatus.OK:
            raise _error_from(response)
        try:
            data = response.json()
        except ValueError:
            raise RequestFailed("o servidor respondeu algo que não é JSON") from None
        return _parse(lambda: LiveBatch.from_json(data))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _checked_site(data: Any) -> dict[str, Any]:
    """The site answer, with the fields the site screen reads checked (KeyError/TypeError else)."""
    names = ("rotulo", "consumo_kwh", "importado_kwh", "exportado_kwh", "producao_kwh", "autoconsumo_kwh")
    for row in [*data["consumo"], data["totais"]]:
        missing = [name for name in names[1:] if name not in row]
        if missing:
            raise KeyError(missing[0])
    return dict(data)


def _meter_path(meter_id: str) -> str:
    return f"{API_PREFIX}/medidores/{quote(meter_id, safe='')}"


def _unreachable_message(base_url: str, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"o servidor {base_url} não respondeu a tempo"
    if isinstance(exc, ResponseError):
        return f"{base_url} respondeu algo que não é HTTP: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return f"nada escuta em {base_url} (conexão recusada)"
    return f"não foi possível falar com {base_url}: {exc}"


def describe_auth_problem(error: ApiError, *, action: str = "") -> str:
    """What key is needed, said plainly, for a 401 or 403 (other errors: their own message)."""
    if isinstance(error, Unauthorized):
        return ("A chave foi recusada (desconhecida ou revogada). Use a chave de administração "
                "(MONITOR_CHAVE_ADMIN do servidor) ou a chave de leitura de um medidor (ml_…).")
    if isinstance(error, Forbidden):
        what = f" para {action}" if action else ""
        return f"Esta chave não basta{what}: {error.message}."
    return error.message


__all__ = [
    "ApiClient", "ApiError", "Forbidden", "LiveSession", "NotFound", "RequestFailed", "ServerUnreachable",
    "Unauthorized", "describe_auth_problem", "normalize_base_url",
]
