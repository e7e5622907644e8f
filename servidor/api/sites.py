"""/api/v1/sites: sites, their energy by opengrid's formula, and the analysis feed (`serie`) of
sites and meters."""
from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

from servidor.api.call import Call, no_content, now_ms, ok
from servidor.billing.calendar import INTERVALS, parse_instant
from servidor.domain.auth import Role, require, require_admin, require_read, require_site_read
from servidor.domain.categories import FIGURES
from servidor.domain.errors import Forbidden, InvalidInput
from servidor.domain.site_flows import SERIES_INTERVALS, SITE_FIGURES, series, series_csv
from shared.http.messages import Response

CSV_CONTENT = (("content-type", "text/csv; charset=utf-8"),)
# What `consumo` and `serie` show when `de` is omitted.
DEFAULT_SPAN = {"15min": timedelta(hours=24), "hora": timedelta(hours=24), "dia": timedelta(days=30),
                "mes": timedelta(days=365)}
FORMATS = ("json", "csv")


def _range(call: Call, tz: ZoneInfo, intervals: tuple[str, ...]) -> tuple[str, int, int, int]:
    """(intervalo, de, ate, now) of the query, the future cut off at now."""
    query = call.query
    interval = query.get("intervalo") or intervals[1]  # dia for consumo, hora for serie
    if interval not in intervals:
        raise InvalidInput(f"intervalo deve ser um de: {', '.join(intervals)}")
    now = now_ms()
    try:
        end = parse_instant(query["ate"], tz, end=True) if query.get("ate") else now
        start = parse_instant(query["de"], tz) if query.get("de") else \
            end - int(DEFAULT_SPAN[interval].total_seconds() * 1000)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return interval, start, min(end, now), now


def list_sites(call: Call) -> Response:
    principal = require(call.principal)
    sites = call.services.sites
    if principal.role is Role.ADMIN:
        listed = sites.book.all()
    elif principal.site_id is not None:
        listed = [sites.book.get(principal.site_id)]
    else:
        raise Forbidden("listar sites precisa da chave de administração ou da chave de leitura de um site")
    return ok({"sites": [sites.view(s) for s in listed]})


def create_site(call: Call) -> Response:
    require_admin(call.principal)
    sites = call.services.sites
    site, key = sites.book.create(call.json())
    view = sites.view(site)
    view["chave_leitura"] = key
    view["aviso"] = "guarde a chave: ela não será mostrada de novo"
    return ok(view, HTTPStatus.CREATED)


def get_site(call: Call, id: str) -> Response:
    require_site_read(call.principal, id)
    sites = call.services.sites
    return ok(sites.view(sites.book.get(id)))


def put_site(call: Call, id: str) -> Response:
    require_admin(call.principal)
    sites = call.services.sites
    return ok(sites.view(sites.book.replace(id, call.json())))


def delete_site(call: Call, id: str) -> Response:
    require_admin(call.principal)
    call.services.sites.delete(id)
    return no_content()


def _site_rows(call: Call, id: str, intervals: tuple[str, ...]) -> tuple[Any, str, list[dict[str, Any]]]:
    require_site_read(call.principal, id)
    services = call.services
    site = services.sites.book.get(id)
    interval, start, end, now = _range(call, site.tz, intervals)
    rows = services.flows.site_rows(site.tz, services.sites.members(id), interval, start, end, now)
    return site, interval, rows


def site_consumption(call: Call, id: str) -> Response:
    site, interval, rows = _site_rows(call, id, INTERVALS)
    totals = {f: round(sum(r[f] for r in rows), 6) for f in SITE_FIGURES if f != "autossuficiencia_pct"}
    totals["autossuficiencia_pct"] = (None if totals["consumo_kwh"] <= 0 else
                                      round(min(100.0, 100.0 * totals["autoconsumo_kwh"] / totals["consumo_kwh"]), 2))
    members = call.services.sites.members(id)
    return ok({"site": id, "intervalo": interval, "fuso": site.fuso, "unidade": "kWh",
               "formula": "gridNet + gridImport + pvProd − gridExport + gridCons",
               "medidores": [{"id": m.id, "categoria": m.categoria} for m in members],
               "totais": totals, "consumo": rows})


def _answer_series(call: Call, feed: dict[str, Any]) -> Response:
    fmt = call.query.get("formato") or "json"
    if fmt not in FORMATS:
        raise InvalidInput(f"formato deve ser um de: {', '.join(FORMATS)}")
    if fmt == "csv":
        return Response(HTTPStatus.OK, CSV_CONTENT, series_csv(feed).encode("utf-8"))
    return ok(feed)


def site_series(call: Call, id: str) -> Response:
    site, interval, rows = _site_rows(call, id, SERIES_INTERVALS)
    return _answer_series(call, {"site": id, "intervalo": interval, "fuso": site.fuso, **series(rows, SITE_FIGURES)})


def meter_series(call: Call, id: str) -> Response:
    require_read(call.principal, id)
    services = call.services
    meter = services.meters.get(id)
    interval, start, end, _ = _range(call, meter.tz, SERIES_INTERVALS)
    rows = services.flows.meter_rows(meter, interval, start, end)
    feed = {"medidor": id, "intervalo": interval, "fuso": meter.fuso, "categoria": meter.categoria,
            **series(rows, FIGURES)}
    return _answer_series(call, feed)
