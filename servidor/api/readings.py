"""Readings: ingest (one or a batch), raw history, and the live long poll."""
from __future__ import annotations

from http import HTTPStatus
from typing import Any

from shared.calendar import parse_instant
from shared.http.messages import Response
from shared.models import InvalidReading, Reading, format_timestamp
from servidor.api.call import Call, now_ms, ok
from servidor.api.envelope import error
from servidor.domain.auth import require_read, require_write
from servidor.domain.live import MAX_WAIT_S
from servidor.errors import InvalidInput

# One request carries at most this many readings: an agent catching up after an outage sends a
# day of 10-s readings in 9 requests, and a batch stays under a few hundred KiB of JSON.
MAX_BATCH = 1000
# Raw readings per page; a year of hourly totals comes from /consumo, not from here.
DEFAULT_PAGE = 1000
MAX_PAGE = 10_000
# Readings handed to one live long poll answer.
LIVE_BATCH = 500
DEFAULT_WAIT_S = 25.0


def _parse_batch(body: Any, now: int) -> tuple[list[Reading], list[dict[str, Any]], bool]:
    """Readings to store, the rejected ones with their reasons, and whether it was a batch."""
    if isinstance(body, dict) and "leituras" in body:
        items = body["leituras"]
        if not isinstance(items, list):
            raise InvalidInput("leituras deve ser uma lista")
        if len(items) > MAX_BATCH:
            raise InvalidInput(f"no máximo {MAX_BATCH} leituras por requisição (recebidas {len(items)})", code="lote_grande_demais")
        batch = True
    else:
        items, batch = [body], False
    good: list[Reading] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            good.append(Reading.from_json(item, now))
        except InvalidReading as exc:
            seq = item.get("seq") if isinstance(item, dict) else None
            rejected.append({"indice": index, "seq": seq, "motivo": str(exc)})
    return good, rejected, batch


def post_readings(call: Call, id: str) -> Any:
    require_write(call.principal, id)
    app = call.app
    meter = app.meters.get(id)
    now = now_ms()
    readings, rejected, batch = _parse_batch(call.json(), now)
    if rejected:
        app.metrics.ingested(0, 0, len(rejected))
    if rejected and not readings:
        # Nothing could be stored: the whole request is refused, with every reason.
        motives = "; ".join(f"leitura {r['indice']}: {r['motivo']}" if batch else r["motivo"] for r in rejected)
        raise InvalidInput(motives, code="leitura_invalida")
    result = app.readings.append(id, readings)
    app.metrics.ingested(result.aceitas, result.duplicadas, 0)
    app.alerts.after_ingest(meter, result, now)
    body: dict[str, Any] = {
        "aceitas": result.aceitas,
        "duplicadas": result.duplicadas,
        "ultimo_seq": result.ultimo_seq,
        "comandos": [c.to_json() for c in app.commands.take(id)],
    }
    if rejected:
        body["rejeitadas"] = rejected
    return ok(body)


def get_readings(call: Call, id: str) -> Any:
    require_read(call.principal, id)
    meter = call.app.meters.get(id)
    tz = meter.tz
    query = call.request.query
    try:
        start = parse_instant(query["de"], tz) if query.get("de") else None
        end = parse_instant(query["ate"], tz, end=True) if query.get("ate") else None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    limit = call.query_int("limite", DEFAULT_PAGE, 1, MAX_PAGE)
    rows = call.app.readings.readings(id, start, end, limit + 1)
    page, more = rows[:limit], rows[limit:]
    out = []
    for reading, reset in page:
        item = reading.to_json(tz)
        if reset:
            item["reinicio"] = True
        out.append(item)
    body: dict[str, Any] = {"medidor": id, "leituras": out, "total": len(out)}
    if more:
        next_ts = more[0][0].ts_ms
        body["proxima_pagina"] = f"/api/v1/medidores/{id}/leituras?de={next_ts}&limite={limit}" + (
            f"&ate={end}" if end is not None else "")
        body["proximo_de"] = format_timestamp(next_ts, tz)
    return ok(body)


def live_answer(call_app: Any, meter_id: str, after_seq: int) -> Response | None:
    meter = call_app.meters.find(meter_id)
    if meter is None:
        return error(HTTPStatus.NOT_FOUND, "nao_encontrado", f"medidor {meter_id} não existe")
    readings = call_app.readings.after_seq(meter_id, after_seq, LIVE_BATCH)
    if not readings:
        return None
    tz = meter.tz
    return Response.of_json(HTTPStatus.OK, {
        "medidor": meter_id, "leituras": [r.to_json(tz) for r in readings], "ultimo_seq": readings[-1].seq,
    })


def get_live(call: Call, id: str) -> Any:
    require_read(call.principal, id)
    app = call.app
    app.meters.get(id)
    wait = call.query_float("espera", DEFAULT_WAIT_S, 0.0, MAX_WAIT_S)
    raw_after = call.request.query.get("apos")
    if raw_after in (None, ""):
        after = app.readings.max_seq(id)
        after = -1 if after is None else after
    else:
        after = call.query_int("apos", -1, -1, 2**63 - 1)
    ready = live_answer(app, id, after)
    if ready is not None:
        return ready
    if wait == 0:
        return Response(HTTPStatus.NO_CONTENT)
    return app.live.wait(id, after, wait)
