"""/api/v1/tarifas: anyone with a key reads them; only the admin changes them."""
from __future__ import annotations

from http import HTTPStatus
from typing import Any

from servidor.api.call import Call, no_content, ok
from servidor.domain.auth import require, require_admin


def list_tariffs(call: Call) -> Any:
    require(call.principal)
    return ok({"tarifas": [t.to_json() for t in call.app.tariffs.all()]})


def create_tariff(call: Call) -> Any:
    require_admin(call.principal)
    return ok(call.app.tariffs.create(call.json()).to_json(), HTTPStatus.CREATED)


def get_tariff(call: Call, id: str) -> Any:
    require(call.principal)
    return ok(call.app.tariffs.get(id).to_json())


def put_tariff(call: Call, id: str) -> Any:
    require_admin(call.principal)
    return ok(call.app.tariffs.replace(id, call.json()).to_json())


def delete_tariff(call: Call, id: str) -> Any:
    require_admin(call.principal)
    call.app.tariffs.delete(id)
    return no_content()
