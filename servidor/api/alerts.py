"""Alerts and remote commands of one meter."""
from __future__ import annotations

from http import HTTPStatus
from typing import Any

from servidor.alert_rules import Finding
from servidor.api.call import Call, ok
from servidor.domain.auth import require_read, require_write
from servidor.errors import InvalidInput

# Alerts an agent may raise itself (the drivers' repeated device failures).
AGENT_ALERT_TYPES = ("falha_dispositivo", "spool_cheio")
MAX_MESSAGE = 500


def list_alerts(call: Call, id: str) -> Any:
    require_read(call.principal, id)
    call.app.meters.get(id)
    return ok({"medidor": id, "alertas": call.app.alerts.list(id)})


def raise_alert(call: Call, id: str) -> Any:
    require_write(call.principal, id)
    call.app.meters.get(id)
    body = call.json()
    if not isinstance(body, dict) or body.get("tipo") not in AGENT_ALERT_TYPES:
        raise InvalidInput(f"tipo deve ser um de: {', '.join(AGENT_ALERT_TYPES)}")
    message = body.get("mensagem")
    if not isinstance(message, str) or not message.strip() or len(message) > MAX_MESSAGE:
        raise InvalidInput(f"mensagem deve ser um texto de 1 a {MAX_MESSAGE} caracteres")
    key = body.get("chave") if isinstance(body.get("chave"), str) else message
    alert = call.app.alerts.raise_finding(id, Finding(body["tipo"], f"{body['tipo']}:{key}", message.strip()))
    if alert is None:
        return ok({"duplicado": True})
    return ok(alert, HTTPStatus.CREATED)


def acknowledge(call: Call, id: str, alerta: str) -> Any:
    require_read(call.principal, id)
    call.app.meters.get(id)
    return ok(call.app.alerts.acknowledge(id, alerta))


def queue_command(call: Call, id: str) -> Any:
    require_read(call.principal, id)
    command = call.app.commands.queue(id, call.json())
    return ok(command.to_json(), HTTPStatus.ACCEPTED)


def list_commands(call: Call, id: str) -> Any:
    require_read(call.principal, id)
    call.app.meters.get(id)
    return ok({"medidor": id, "comandos": [c.to_json() for c in call.app.commands.pending(id)]})
