"""/api/v1/medidores and /api/v1/medidores/{id}: the meters and their current state."""
from __future__ import annotations

from http import HTTPStatus
from typing import Any

from servidor.billing.calendar import local_date
from shared.models import format_timestamp
from servidor.api.call import Call, no_content, now_ms, ok
from servidor.domain.auth import Role, require, require_admin, require_read, require_write
from servidor.domain.meters import Meter
from servidor.errors import Forbidden, InvalidInput


def meter_view(call: Call, meter: Meter, now: int, *, detail: bool) -> dict[str, Any]:
    """The meter with its state: power now, kWh today and this month, projected invoice, alerts."""
    app = call.app
    tz = meter.tz
    view = meter.to_json()
    last = app.readings.last(meter.id)
    view["ultima_leitura"] = None if last is None else {
        "seq": last.seq, "ts": format_timestamp(last.ts_ms, tz), "energia_wh": last.energia_wh,
        "potencia_w": last.potencia_w,
    }
    month, _, _ = app.consumption.month_progress(meter, now)
    today = app.consumption.day(meter, local_date(tz, now))
    projected = app.invoices.projected_total(meter, now)
    active = app.alerts.active(meter.id)
    limit = meter.limite_alerta_kwh
    view["resumo"] = {
        "potencia_w": app.consumption.power_now(meter, now),
        "kwh_hoje": round(today.kwh, 3),
        "kwh_mes": round(month.kwh, 3),
        "cobertura_mes": round(month.cobertura, 4),
        "fatura_projetada": projected,
        "limite_uso_pct": None if not limit else round(100.0 * month.kwh / limit, 1),
        "alertas_ativos": len(active),
        "leituras": app.readings.count(meter.id),
    }
    if detail:
        view["alertas_ativos"] = active
        view["comandos_pendentes"] = [c.to_json() for c in app.commands.pending(meter.id)]
    return view


def list_meters(call: Call) -> Any:
    principal = require(call.principal)
    now = now_ms()
    if principal.role is Role.ADMIN:
        meters = call.app.meters.all()
    elif principal.meter_id is not None:
        meters = [m for m in call.app.meters.all() if m.id == principal.meter_id]
    else:
        raise Forbidden("a chave de registro só cria medidores; use a chave de administração ou a do medidor")
    body: dict[str, Any] = {"medidores": [meter_view(call, m, now, detail=False) for m in meters]}
    if principal.role is Role.ADMIN and call.app.legacy is not None:
        body["legado"] = call.app.legacy.totals()
    return ok(body)


def create_meter(call: Call) -> Any:
    principal = require(call.principal)
    if principal.role not in (Role.ADMIN, Role.REGISTRATION):
        raise Forbidden("criar medidores precisa da chave de administração ou de registro")
    body = call.json()
    if isinstance(body, dict) and "tarifa" in body and not call.app.tariffs.exists(str(body["tarifa"])):
        raise InvalidInput(f"tarifa {body['tarifa']} não existe")
    meter, keys = call.app.meters.create(body)
    call.app.readings.set_timezone(meter.id, meter.tz)
    view = meter_view(call, meter, now_ms(), detail=True)
    view["chave_escrita"] = keys.chave_escrita
    view["chave_leitura"] = keys.chave_leitura
    view["aviso"] = "guarde as chaves: elas não serão mostradas de novo"
    return ok(view, HTTPStatus.CREATED)


def get_meter(call: Call, id: str) -> Any:
    require_read(call.principal, id)
    return ok(meter_view(call, call.app.meters.get(id), now_ms(), detail=True))


def put_meter(call: Call, id: str) -> Any:
    require_write(call.principal, id)
    call.app.meters.get(id)
    body = call.json()
    if isinstance(body, dict) and "tarifa" in body and not call.app.tariffs.exists(str(body["tarifa"])):
        raise InvalidInput(f"tarifa {body['tarifa']} não existe")
    meter = call.app.meters.replace_fields(id, body)
    call.app.readings.set_timezone(meter.id, meter.tz)
    return ok(meter_view(call, meter, now_ms(), detail=True))


def delete_meter(call: Call, id: str) -> Any:
    require_admin(call.principal)
    call.app.meters.get(id)
    call.app.readings.delete_meter(id)
    call.app.alerts.forget_meter(id)
    call.app.invoices.forget_meter(id)
    call.app.commands.forget_meter(id)
    call.app.meters.delete(id)
    return no_content()
