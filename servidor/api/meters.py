"""/api/v1/medidores and /api/v1/medidores/{id}: the meters and their current state."""
from __future__ import annotations

from http import HTTPStatus

from servidor.api.call import Call, no_content, now_ms, ok
from servidor.domain.auth import Role, require, require_admin, require_creator, require_read, require_write
from servidor.domain.errors import Forbidden
from shared.http.messages import Response


def list_meters(call: Call) -> Response:
    principal = require(call.principal)
    meters = call.services.meters
    if principal.role is Role.ADMIN:
        listed = meters.all()
    elif principal.role in (Role.READ, Role.WRITE) and principal.meter_id is not None:
        found = meters.find(principal.meter_id)
        listed = (found,) if found is not None else ()
    else:
        raise Forbidden("a chave de registro só cria medidores; use a chave de administração ou a do medidor")
    now = now_ms()
    body = {"medidores": [meters.view(m, now, detail=False) for m in listed]}
    if principal.role is Role.ADMIN and call.services.legacy is not None:
        body["legado"] = call.services.legacy.totals()
    return ok(body)


def create_meter(call: Call) -> Response:
    require_creator(call.principal)
    meters = call.services.meters
    meter, keys = meters.create(call.json())
    view = meters.view(meter, now_ms(), detail=True)
    view["chave_escrita"] = keys.chave_escrita
    view["chave_leitura"] = keys.chave_leitura
    view["aviso"] = "guarde as chaves: elas não serão mostradas de novo"
    return ok(view, HTTPStatus.CREATED)


def get_meter(call: Call, id: str) -> Response:
    require_read(call.principal, id)
    meters = call.services.meters
    return ok(meters.view(meters.get(id), now_ms(), detail=True))


def put_meter(call: Call, id: str) -> Response:
    require_write(call.principal, id)
    meters = call.services.meters
    meters.get(id)
    meter = meters.replace(id, call.json())
    return ok(meters.view(meter, now_ms(), detail=True))


def delete_meter(call: Call, id: str) -> Response:
    require_admin(call.principal)
    call.services.meters.delete(id)
    return no_content()
