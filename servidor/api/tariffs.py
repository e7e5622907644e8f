"""/api/v1/tarifas, their versions and the bandeira table: anyone with a key reads them; only the
admin changes them."""
from __future__ import annotations

from http import HTTPStatus

from servidor.api.call import Call, no_content, ok
from servidor.billing import flags_to_json, plan_to_json
from servidor.billing.tariff_json import version_to_json
from servidor.domain.auth import require, require_admin
from shared.http.messages import Response


def list_tariffs(call: Call) -> Response:
    require(call.principal)
    return ok({"tarifas": [plan_to_json(t) for t in call.services.tariffs.all()]})


def create_tariff(call: Call) -> Response:
    require_admin(call.principal)
    return ok(plan_to_json(call.services.tariffs.create(call.json())), HTTPStatus.CREATED)


def get_tariff(call: Call, id: str) -> Response:
    require(call.principal)
    return ok(plan_to_json(call.services.tariffs.get(id)))


def put_tariff(call: Call, id: str) -> Response:
    require_admin(call.principal)
    return ok(plan_to_json(call.services.tariffs.replace(id, call.json())))


def delete_tariff(call: Call, id: str) -> Response:
    require_admin(call.principal)
    call.services.tariffs.delete(id)
    return no_content()


def list_versions(call: Call, id: str) -> Response:
    require(call.principal)
    plan = call.services.tariffs.get(id)
    return ok({"tarifa": plan.id, "versoes": [version_to_json(v) for v in plan.versoes]})


def add_version(call: Call, id: str) -> Response:
    require_admin(call.principal)
    return ok(plan_to_json(call.services.tariffs.add_version(id, call.json())), HTTPStatus.CREATED)


def get_version(call: Call, id: str, vigencia: str) -> Response:
    require(call.principal)
    plan, index = call.services.tariffs.version(id, vigencia)
    return ok(version_to_json(plan.versoes[index]))


def put_version(call: Call, id: str, vigencia: str) -> Response:
    require_admin(call.principal)
    return ok(plan_to_json(call.services.tariffs.replace_version(id, vigencia, call.json())))


def delete_version(call: Call, id: str, vigencia: str) -> Response:
    require_admin(call.principal)
    return ok(plan_to_json(call.services.tariffs.delete_version(id, vigencia)))


def get_flags(call: Call) -> Response:
    require(call.principal)
    return ok(flags_to_json(call.services.tariffs.flags()))


def put_flags(call: Call) -> Response:
    require_admin(call.principal)
    return ok(flags_to_json(call.services.tariffs.replace_flags(call.json())))


def put_month_flag(call: Call, mes: str) -> Response:
    require_admin(call.principal)
    return ok(flags_to_json(call.services.tariffs.set_month_flag(mes, call.json())))
