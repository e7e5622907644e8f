"""Consumption by hour, day or month in the meter's local calendar (invoices: servidor/api/invoices.py)."""
from __future__ import annotations

from datetime import timedelta

from servidor.api.call import Call, now_ms, ok
from servidor.billing.calendar import INTERVALS, parse_instant
from servidor.domain.auth import require_read
from servidor.domain.categories import FIGURES, MEASURE, unit
from servidor.domain.errors import InvalidInput
from shared.http.messages import Response

# What `consumo` shows when `de` is omitted: the last day of hours, month of days, year of months.
DEFAULT_SPAN = {"hora": timedelta(hours=24), "dia": timedelta(days=30), "mes": timedelta(days=365)}


def get_consumption(call: Call, id: str) -> Response:
    require_read(call.principal, id)
    meter = call.services.meters.get(id)
    tz = meter.tz
    query = call.query
    interval = query.get("intervalo") or "dia"
    if interval not in INTERVALS:
        raise InvalidInput(f"intervalo deve ser um de: {', '.join(INTERVALS)}")
    now = now_ms()
    try:
        end = parse_instant(query["ate"], tz, end=True) if query.get("ate") else now
        start = parse_instant(query["de"], tz) if query.get("de") else end - int(DEFAULT_SPAN[interval].total_seconds() * 1000)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    # The future has no consumption yet: buckets stop at the one holding now (marked parcial).
    rows = call.services.consumption.buckets(meter, interval, start, min(end, now), now)
    totals = {key: round(sum(r.get(key, 0.0) for r in rows), 6) for key in FIGURES if rows and key in rows[0]}
    body = {"medidor": id, "intervalo": interval, "fuso": meter.fuso, "categoria": meter.categoria,
            "grandeza": MEASURE[meter.categoria], "unidade": unit(meter), "totais": totals, "consumo": rows}
    if "kwh" in totals or "m3" not in totals:
        body["total_kwh"] = totals.get("kwh", 0.0)
    return ok(body)
