"""The 004 wire format, kept working unchanged: `POST /<id>` from its meter, `GET /?id=<id>` from
its menu client, plus the PUT and DELETE it documented.

004's meter sends no Content-Length and closes; its menu client reads until the server closes:
every answer here closes the connection. What is stored, and its bounds, is the domain's
(servidor/domain/legacy.py).
"""
from __future__ import annotations

from dataclasses import replace
from http import HTTPStatus

from servidor.api.body import decode_json
from servidor.api.call import Call
from servidor.api.errors import MalformedBody, RouteNotFound, json_response
from servidor.api.page import page, wants_html
from servidor.domain.legacy import LegacyMeters
from shared.contract import API_PREFIX
from shared.http.messages import Response
from shared.models import METER_ID


def body_until_close(method: str, target: str) -> bool:
    """The parser's rule for requests without framing: only 004's POST/PUT read until close."""
    return method in ("POST", "PUT") and not target.startswith((API_PREFIX + "/", "/ws/"))


def _legacy(call: Call) -> LegacyMeters:
    legacy = call.services.legacy
    if legacy is None:  # routes are only registered with the legacy service: a wiring bug
        raise RuntimeError("rotas do 004 sem o serviço do 004")
    return legacy


def _closing(status: int, payload: object) -> Response:
    return json_response(status, payload, close=True)


def _meter_id(meter_id: str) -> str:
    if not METER_ID.fullmatch(meter_id):
        raise RouteNotFound(f"nada em /{meter_id[:80]}; a API fica em {API_PREFIX}")
    return meter_id


def legacy_root(call: Call) -> Response:
    """GET /: the browser's page, 004's whole database, or one meter with `?id=`."""
    if wants_html(call.request):
        return page(call)
    wanted = call.query.get("id")
    if wanted is None:
        return _closing(HTTPStatus.OK, _legacy(call).everything())
    return _closing(HTTPStatus.OK, {wanted: _legacy(call).get(wanted)})


def legacy_get(call: Call, id: str) -> Response:
    meter_id = _meter_id(id)
    return _closing(HTTPStatus.OK, {meter_id: _legacy(call).get(meter_id)})


def legacy_store(call: Call, id: str) -> Response:
    meter_id = _meter_id(id)
    payload = decode_json(call.request.body)
    if not isinstance(payload, dict):
        raise MalformedBody("o corpo deve ser um objeto JSON")
    record = _legacy(call).store(meter_id, payload, len(call.request.body))
    return _closing(HTTPStatus.OK, {"id": meter_id, "recebido_em": record["recebido_em"]})


def legacy_store_put(call: Call, id: str) -> Response:
    """PUT /<id>: the same as POST (004 documented both)."""
    return legacy_store(call, id)


def legacy_delete(call: Call, id: str) -> Response:
    meter_id = _meter_id(id)
    _legacy(call).delete(meter_id)
    return replace(Response(HTTPStatus.NO_CONTENT), close=True)
