"""/api/v1/medidores/{id}/chaves: a meter's keys listed, replaced (rotated) or revoked, by the admin.

A key is shown once, when it is made; listing gives only each key's role and public id.
"""
from __future__ import annotations

from http import HTTPStatus

from servidor.api.call import Call, no_content, ok
from servidor.domain.auth import require_admin
from shared.http.messages import Response

NEW_KEYS_NOTE = "guarde as chaves novas: elas não serão mostradas de novo; as antigas já não valem"


def list_keys(call: Call, id: str) -> Response:
    require_admin(call.principal)
    return ok({"medidor": id, "chaves": call.services.meters.keys(id)})


def replace_keys(call: Call, id: str) -> Response:
    require_admin(call.principal)
    body = call.json() if call.request.body.strip() else {}
    made = call.services.meters.replace_keys(id, body)
    return ok({"medidor": id, **made.to_json(), "aviso": NEW_KEYS_NOTE}, HTTPStatus.CREATED)


def revoke_key(call: Call, id: str, papel: str) -> Response:
    require_admin(call.principal)
    call.services.meters.revoke_key(id, papel)
    return no_content()
