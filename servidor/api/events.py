"""energy-sensors' routes (docs/protocolos.md §4): POST /log/store, POST /log/parse, GET /clusters/summary.

Answers are energy-sensors' own: success `200 {}` (the parsed event for /log/parse), failure
`400 {"error": "…"}` naming what is missing or malformed. `text/plain` (or no JSON type) is an
event line; `application/json` is the parsed form, an object or a JSON string holding one.

The routes are open, as energy-sensors' were: its devices and replay scripts send no key. What
an open route can make is bounded: events are stored (fsynced, append-only), and at most
servidor.domain.events.MAX_SENSOR_METERS meters `sensor-<ID>` are created for their live view.
"""
from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from servidor.api.call import Call
from servidor.domain.event_line import EventError, from_json, parse_line
from servidor.domain.events import EventService
from shared.http.json_body import decode_json
from shared.http.messages import Request, Response

_JSON = (("content-type", "application/json"),)
_JSON_TYPES = frozenset({"application/json", "text/json"})


def _answer(status: int, payload: Any) -> Response:
    # ASCII escapes, as Flask's jsonify wrote them: a lone surrogate sent in JSON comes back escaped.
    return Response(status, _JSON, json.dumps(payload).encode("ascii"))


def _error(message: str) -> Response:
    return _answer(HTTPStatus.BAD_REQUEST, {"error": message})


def event_of(request: Request) -> dict[str, Any]:
    """The request's event, parsed; EventError for a body that is not one."""
    ctype = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    body = request.body
    if ctype in _JSON_TYPES or ctype.endswith("+json"):
        try:
            return from_json(decode_json(body))
        except ValueError as exc:
            if isinstance(exc, EventError):
                raise
            raise EventError(f"JSON inválido: {exc}") from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise EventError("a linha não está em UTF-8") from None
    return parse_line(text)


def _events(call: Call) -> EventService:
    events = call.services.events
    if events is None:  # the routes are only registered with the service: a wiring bug
        raise RuntimeError("rotas do energy-sensors sem o serviço de eventos")
    return events


def log_store(call: Call) -> Response:
    """Store one event; 200 {} once it is durable."""
    events = _events(call)
    try:
        events.store(event_of(call.request))
    except EventError as exc:
        return _error(str(exc))
    return _answer(HTTPStatus.OK, {})


def log_parse(call: Call) -> Response:
    return parse_only(call.request)


def parse_only(request: Request) -> Response:
    """POST /log/parse: the parsed event, storing nothing (also the whole `--somente-parse` server)."""
    try:
        return _answer(HTTPStatus.OK, event_of(request))
    except EventError as exc:
        return _error(str(exc))


def clusters_summary(call: Call) -> Response:
    """The clusters of the last finished computation (none before the first)."""
    return _answer(HTTPStatus.OK, _events(call).summary())


def parse_service(request: Request) -> Response:
    """The stateless parse server: /log/parse and nothing else."""
    path = request.path
    if path != "/log/parse":
        return _answer(HTTPStatus.NOT_FOUND, {"error": f"nada em {path[:200]}; este servidor só tem POST /log/parse"})
    if request.method == "OPTIONS":
        return Response(HTTPStatus.OK, (("allow", "POST, OPTIONS"),))
    if request.method != "POST":
        return Response(HTTPStatus.METHOD_NOT_ALLOWED, (("allow", "POST, OPTIONS"),) + _JSON,
                        json.dumps({"error": "use POST"}).encode())
    return parse_only(request)
