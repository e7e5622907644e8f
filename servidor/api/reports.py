"""Consumption by hour, day or month in the meter's local calendar, and monthly invoices."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from servidor.billing.calendar import INTERVALS, local_date, month_bounds, parse_instant, parse_month
from servidor.api.call import Call, now_ms, ok
from servidor.domain.auth import require_read
from servidor.errors import InvalidInput, NotFound

# What `consumo` shows when `de` is omitted: the last day of hours, month of days, year of months.
DEFAULT_SPAN = {"hora": timedelta(hours=24), "dia": timedelta(days=30), "mes": timedelta(days=365)}


def get_consumption(call: Call, id: str) -> Any:
    require_read(call.principal, id)
    meter = call.app.meters.get(id)
    tz = meter.tz
    query = call.request.query
    interval = query.get("intervalo") or "dia"
    if interval not in INTERVALS:
        raise InvalidInput(f"intervalo deve ser um de: {', '.join(INTERVALS)}")
    now = now_ms()
    try:
        end = parse_instant(query["ate"], tz, end=True) if query.get("ate") else now
        start = parse_instant(query["de"], tz) if query.get("de") else end - int(DEFAULT_SPAN[interval].total_seconds() * 1000)
        # The future has no consumption yet: buckets stop at the one holding now (marked parcial).
        end = min(end, now)
        rows = call.app.consumption.buckets(meter, interval, start, end, now) if start < end else []
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return ok({
        "medidor": id, "intervalo": interval, "fuso": meter.fuso, "unidade": "kWh",
        "total_kwh": round(sum(r["kwh"] for r in rows), 6), "consumo": rows,
    })


def list_invoices(call: Call, id: str) -> Any:
    require_read(call.principal, id)
    meter = call.app.meters.get(id)
    now = now_ms()
    invoices = [call.app.invoices.issue(meter, y, m, now) for y, m in call.app.invoices.months(meter, now)]
    return ok({"medidor": id, "faturas": invoices})


def get_invoice(call: Call, id: str, mes: str) -> Any:
    require_read(call.principal, id)
    meter = call.app.meters.get(id)
    try:
        year, month = parse_month(mes)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    now = now_ms()
    today = local_date(meter.tz, now)
    if (year, month) > (today.year, today.month):
        raise NotFound(f"a fatura de {mes} ainda não existe: o mês não começou")
    month_bounds(meter.tz, year, month)
    return ok(call.app.invoices.issue(meter, year, month, now))
