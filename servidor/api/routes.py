"""Every route the server answers, in one table. The OpenAPI document is drawn from this table,
so a route cannot be served without being documented, nor documented without being served."""
from __future__ import annotations

from servidor.api import (alerts, blip, central, events, invoices, keys, legacy, live, meters, readings, reports,
                          sites, tariffs)
from servidor.api.metrics import Metrics
from servidor.api.page import page
from servidor.api.router import Route, Router
from servidor.api.system import SystemRoutes
from shared.contract import API_PREFIX

METERS = f"{API_PREFIX}/medidores"
METER = f"{METERS}/{{id}}"
SITES = f"{API_PREFIX}/sites"
# Tesla Analyzer's central service (seed 000), its paths unchanged.
CENTRAL = "/ws/v2/history"


def build_router(system: SystemRoutes, *, with_legacy: bool) -> Router:
    r = Router()
    r.add(f"{API_PREFIX}/openapi.json", GET=system.get_openapi)
    r.add(f"{API_PREFIX}/saude", GET=system.health)
    r.add(METERS, GET=meters.list_meters, POST=meters.create_meter)
    r.add(METER, GET=meters.get_meter, PUT=meters.put_meter, DELETE=meters.delete_meter)
    r.add(f"{METER}/leituras", GET=readings.get_readings, POST=readings.post_readings)
    r.add(f"{METER}/ao-vivo", GET=live.get_live)
    r.add(f"{METER}/consumo", GET=reports.get_consumption)
    r.add(f"{METER}/serie", GET=sites.meter_series)
    r.add(f"{METER}/faturas", GET=invoices.list_invoices)
    r.add(f"{METER}/faturas/{{ciclo}}", GET=invoices.get_invoice)
    r.add(f"{METER}/faturas/{{ciclo}}/versoes", GET=invoices.list_invoice_versions)
    r.add(f"{METER}/faturas/{{ciclo}}/versoes/{{versao}}", GET=invoices.get_invoice_version)
    r.add(f"{METER}/faturas/{{ciclo}}/diferencas", GET=invoices.invoice_differences)
    r.add(f"{METER}/comparar-tarifas", GET=invoices.compare_tariffs)
    r.add(f"{METER}/alertas", GET=alerts.list_alerts, POST=alerts.raise_alert)
    r.add(f"{METER}/alertas/{{alerta}}/reconhecer", POST=alerts.acknowledge)
    r.add(f"{METER}/comandos", GET=alerts.list_commands, POST=alerts.queue_command)
    r.add(f"{METER}/chaves", GET=keys.list_keys, POST=keys.replace_keys)
    r.add(f"{METER}/chaves/{{papel}}", DELETE=keys.revoke_key)
    r.add(SITES, GET=sites.list_sites, POST=sites.create_site)
    r.add(f"{SITES}/{{id}}", GET=sites.get_site, PUT=sites.put_site, DELETE=sites.delete_site)
    r.add(f"{SITES}/{{id}}/consumo", GET=sites.site_consumption)
    r.add(f"{SITES}/{{id}}/serie", GET=sites.site_series)
    r.add(f"{API_PREFIX}/tarifas", GET=tariffs.list_tariffs, POST=tariffs.create_tariff)
    r.add(f"{API_PREFIX}/tarifas/{{id}}", GET=tariffs.get_tariff, PUT=tariffs.put_tariff, DELETE=tariffs.delete_tariff)
    r.add(f"{API_PREFIX}/tarifas/{{id}}/versoes", GET=tariffs.list_versions, POST=tariffs.add_version)
    r.add(f"{API_PREFIX}/tarifas/{{id}}/versoes/{{vigencia}}", GET=tariffs.get_version, PUT=tariffs.put_version,
          DELETE=tariffs.delete_version)
    r.add(f"{API_PREFIX}/bandeiras", GET=tariffs.get_flags, PUT=tariffs.put_flags)
    r.add(f"{API_PREFIX}/bandeiras/{{mes}}", PUT=tariffs.put_month_flag)
    r.add(f"{API_PREFIX}/nos/{{no}}/chave", POST=central.new_node_key)
    r.add(f"{CENTRAL}/save/{{no}}/{{equip}}/", POST=central.save_history)
    r.add(f"{CENTRAL}/load/{{no}}/{{addr}}/{{var}}/{{de}}/{{ate}}/", GET=central.load_history)
    r.add("/metrics", GET=system.metrics_page)
    if with_legacy:
        # System 004's routes: GET / is both the browser's page and 004's menu client.
        r.add("/", legacy=True, GET=legacy.legacy_root)
        r.add("/{id}", legacy=True, GET=legacy.legacy_get, POST=legacy.legacy_store, PUT=legacy.legacy_store_put,
              DELETE=legacy.legacy_delete)
        add_blip_routes(r)
        # energy-sensors' routes (servidor/api/events.py); legacy: OPTIONS answers 200.
        r.add("/log/store", legacy=True, POST=events.log_store)
        r.add("/log/parse", legacy=True, POST=events.log_parse)
        r.add("/clusters/summary", legacy=True, GET=events.clusters_summary)
    else:
        r.add("/", GET=page)
    return r


def add_blip_routes(r: Router) -> None:
    """blipserver's routes (servidor/api/blip.py), by numeric id_blip; legacy: OPTIONS answers 200."""
    r.add("/blip.html", legacy=True, GET=blip.blip_page)
    r.add("/blip/{id}", legacy=True, GET=blip.blip_wait)
    r.add("/last/{id}", legacy=True, GET=blip.blip_last)
    r.add("/last/{id}/{ms}", legacy=True, GET=blip.blip_last_ms)
    r.add("/since/{id}/{instante}", legacy=True, GET=blip.blip_since)
    r.add("/aggregate/{id}/{inicio}/{intervalo}/{quantidade}", legacy=True, GET=blip.blip_aggregate)
    r.add("/aggregate_hourly/{id}/{inicio}/{intervalo}/{quantidade}", legacy=True, GET=blip.blip_aggregate_hourly)
    r.add("/hourly/{id}/{inicio}/{fim}", legacy=True, GET=blip.blip_hourly)
    r.add("/usage/{id}/{ms}", legacy=True, GET=blip.blip_usage)


def route_table(*, with_legacy: bool = True) -> tuple[Route, ...]:
    """The routes a server with these settings answers, without a server: for readers of the
    OpenAPI document that run none (postman/generate.py)."""
    return build_router(SystemRoutes(Metrics(), lambda: b""), with_legacy=with_legacy).routes()
