"""/api/v1/tarifas: anyone with a key reads them; only the admin changes them."""
from __future__ import annotations

from http import HTTPStatus

from servidor.api.call import Call, no_content, ok
from servidor.domain.auth import require, require_admin
from shared.http.messages import Response


def list_tariffs(call: Call) -> Response:
    require(call.principal)
    return ok({"tarifas": [t.to_json() for t in call.services.tariffs.all()]})


def create_tariff(call: Call) -> Response:
    require_admin(call.principal)
    return ok(call.services.tariffs.create(call.json()).to_json(), HTTPStatus.CREATED)


def get_tariff(call: Call, id: str) -> Response:
    require(call.principal)
    return ok(call.services.tariffs.get(id).to_json())


def put_tariff(call: Call, id: str) -> Response:
    require_admin(call.principal)
    return ok(call.services.tariffs.replace(id, call.json()).to_json())


def delete_tariff(call: Call, id: str) -> Response:
    require_admin(call.principal)
    call.services.tariffs.delete(id)
    return no_content()
