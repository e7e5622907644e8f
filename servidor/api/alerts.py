"""Alerts and remote commands of one meter."""
from __future__ import annotations

from http import HTTPStatus

from servidor.api.call import Call, ok
from servidor.domain.auth import require_read, require_write
from shared.http.messages import Response


def list_alerts(call: Call, id: str) -> Response:
    require_read(call.principal, id)
    call.services.meters.get(id)
    return ok({"medidor": id, "alertas": call.services.alerts.list(id)})


def raise_alert(call: Call, id: str) -> Response:
    require_write(call.principal, id)
    call.services.meters.get(id)
    alert, created = call.services.alerts.raise_from_agent(id, call.json())
    if not created:
        return ok({"duplicado": True, "ocorrencias": alert["ocorrencias"]})
    return ok(alert, HTTPStatus.CREATED)


def acknowledge(call: Call, id: str, alerta: str) -> Response:
    require_read(call.principal, id)
    call.services.meters.get(id)
    return ok(call.services.alerts.acknowledge(id, alerta))


def queue_command(call: Call, id: str) -> Response:
    require_read(call.principal, id)
    command = call.services.commands.queue(id, call.json())
    return ok(command.to_json(), HTTPStatus.ACCEPTED)


def list_commands(call: Call, id: str) -> Response:
    require_read(call.principal, id)
    call.services.meters.get(id)
    return ok({"medidor": id, "comandos": [c.to_json() for c in call.services.commands.pending(id)]})
