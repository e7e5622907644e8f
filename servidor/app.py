"""The application: stores, domain services and routes wired together behind `handle(request)`."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable

from shared.http.messages import Request, Response
from shared.models import Reading
from servidor.api import alerts, meters, openapi, readings, reports, tariffs
from servidor.api.call import Call, ok
from servidor.api.legacy import Legacy
from servidor.api.page import page, wants_html
from servidor.api.router import Router
from servidor.domain.alerts import SILENCE_CHECK_S, Alerts, SilenceWatcher
from servidor.domain.auth import KeyRing, Principal, Role, hash_key, new_key
from servidor.domain.commands import CommandQueue
from servidor.domain.consumption import Consumption
from servidor.domain.invoices import Invoices
from servidor.domain.live import LiveHub
from servidor.domain.meters import KEYS, MeterRegistry
from servidor.domain.tariffs import TariffBook
from servidor.errors import ApiError, MethodNotAllowed
from servidor.example import SEED_TABLE
from servidor.metrics import SEEN_WINDOW_S, Metrics
from servidor.net import Deferred
from servidor.store.documents import DocumentStore
from servidor.store.interface import ReadingsBackend

VERSION = "0.1.0"
API = "/api/v1"
# Browsers and Postman read the API from any origin; the server adds this to every response.
CORS = (("access-control-allow-origin", "*"),)
CORS_PREFLIGHT = (
    ("access-control-allow-methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS"),
    ("access-control-allow-headers", "authorization, content-type"),
    ("access-control-max-age", "86400"),
)
log = logging.getLogger("servidor")


@dataclass(frozen=True, slots=True)
class Settings:
    default_zone: str = "America/Sao_Paulo"
    legacy: bool = True
    admin_key: str | None = None         # MONITOR_CHAVE_ADMIN
    registration_key: str | None = None  # MONITOR_CHAVE_REGISTRO
    silence_check_s: float = SILENCE_CHECK_S

    @classmethod
    def from_env(cls, **overrides: Any) -> "Settings":
        return cls(admin_key=os.environ.get("MONITOR_CHAVE_ADMIN") or None,
                   registration_key=os.environ.get("MONITOR_CHAVE_REGISTRO") or None, **overrides)


def readings_dir(db_path: Path) -> Path:
    """The journal lives beside the document store: db.json → db.leituras/."""
    return db_path.with_name(db_path.stem + ".leituras")


class App:
    def __init__(self, docs: DocumentStore, store: ReadingsBackend, settings: Settings = Settings(),
                 announce: Callable[[str], None] = print) -> None:
        self.docs = docs
        self.readings = store
        self.settings = settings
        self.started = time.time()
        self.keys = KeyRing()
        self.meters = MeterRegistry(docs, self.keys, settings.default_zone)
        self._bootstrap_keys(announce)
        self.tariffs = TariffBook(docs)
        self.consumption = Consumption(store)
        self.invoices = Invoices(docs, store, self.consumption, self.tariffs)
        self.alerts = Alerts(docs, store, self.consumption, self.meters)
        self.commands = CommandQueue(docs, self.meters)
        self.legacy = Legacy(docs, lambda mid: self.meters.find(mid) is not None) if settings.legacy else None
        self.live = LiveHub(lambda mid, after: readings.live_answer(self, mid, after))
        self.watcher = SilenceWatcher(self.alerts.check_silence, settings.silence_check_s)
        for meter in self.meters.all():
            store.set_timezone(meter.id, meter.tz)
        self._import_seed_readings()
        store.add_listener(self.live.notify)
        self.router = self._routes()
        self.metrics = Metrics()
        self._open_connections: Callable[[], int] = lambda: 0

    def _bootstrap_keys(self, announce: Callable[[str], None]) -> None:
        """Admin and registration keys: from the environment, or made once and printed once."""
        for role, given, label in (
            (Role.ADMIN, self.settings.admin_key, "administração"),
            (Role.REGISTRATION, self.settings.registration_key, "registro de medidores"),
        ):
            stored = [d for d in self.docs.all(KEYS) if d["papel"] == role.value]
            if given is not None:
                digest = hash_key(given)
                if not any(d["hash"] == digest for d in stored):
                    self.docs.delete(KEYS, "papel", role.value)
                    self.docs.upsert(KEYS, "hash", {"hash": digest, "papel": role.value, "medidor": None})
                self.keys.add_global(digest, Principal(role))
                continue
            if not stored:
                key, _ = new_key("adm" if role is Role.ADMIN else "reg")
                self.docs.upsert(KEYS, "hash", {"hash": hash_key(key), "papel": role.value, "medidor": None})
                self.keys.add_global(hash_key(key), Principal(role))
                announce(f"Chave de {label} (mostrada só agora; guarde-a): {key}")
        # Keys already stored were loaded by the registry together with the meters' keys.

    def _import_seed_readings(self) -> None:
        """Move readings shipped inside a document store (db.json.example) into the journal.

        Safe to repeat after a crash half-way: re-sent readings are duplicates by `seq`."""
        seeds = self.docs.all(SEED_TABLE)
        for doc in seeds:
            if self.meters.find(doc["medidor"]) is None:
                continue
            rows = [Reading(int(seq), int(ts), float(wh)) for seq, ts, wh, *_ in doc["leituras"]]
            for start in range(0, len(rows), 10_000):
                self.readings.append(doc["medidor"], rows[start:start + 10_000])
        if seeds:
            self.docs.transaction(lambda db: db.drop_table(SEED_TABLE))
            log.info("importadas as leituras iniciais de %d medidores", len(seeds))

    def _routes(self) -> Router:
        r = Router()
        r.add(f"{API}/openapi.json", GET=openapi.get_openapi)
        r.add(f"{API}/saude", GET=self.health)
        r.add(f"{API}/medidores", GET=meters.list_meters, POST=meters.create_meter)
        r.add(f"{API}/medidores/{{id}}", GET=meters.get_meter, PUT=meters.put_meter, DELETE=meters.delete_meter)
        r.add(f"{API}/medidores/{{id}}/leituras", GET=readings.get_readings, POST=readings.post_readings)
        r.add(f"{API}/medidores/{{id}}/ao-vivo", GET=readings.get_live)
        r.add(f"{API}/medidores/{{id}}/consumo", GET=reports.get_consumption)
        r.add(f"{API}/medidores/{{id}}/faturas", GET=reports.list_invoices)
        r.add(f"{API}/medidores/{{id}}/faturas/{{mes}}", GET=reports.get_invoice)
        r.add(f"{API}/medidores/{{id}}/alertas", GET=alerts.list_alerts, POST=alerts.raise_alert)
        r.add(f"{API}/medidores/{{id}}/alertas/{{alerta}}/reconhecer", POST=alerts.acknowledge)
        r.add(f"{API}/medidores/{{id}}/comandos", GET=alerts.list_commands, POST=alerts.queue_command)
        r.add(f"{API}/tarifas", GET=tariffs.list_tariffs, POST=tariffs.create_tariff)
        r.add(f"{API}/tarifas/{{id}}", GET=tariffs.get_tariff, PUT=tariffs.put_tariff, DELETE=tariffs.delete_tariff)
        return r

    def handle(self, request: Request) -> Response | Deferred:
        """Route one request and count it. ApiError propagates to the connection loop, which
        answers it; the status it carries is counted here first."""
        started = time.perf_counter()
        route = ["(desconhecida)"]
        try:
            result = self._dispatch(request, route)
        except ApiError as exc:
            self._observe(route[0], request.method, int(exc.status), started)
            raise
        except Exception:
            self._observe(route[0], request.method, HTTPStatus.INTERNAL_SERVER_ERROR, started)
            raise
        if isinstance(result, Deferred):
            result.add_callback(lambda response: self._observe(route[0], request.method, response.status, started))
        else:
            self._observe(route[0], request.method, result.status, started)
        return result

    def _observe(self, route: str, method: str, status: int, started: float) -> None:
        self.metrics.observe(route, method, status, time.perf_counter() - started)

    def _dispatch(self, request: Request, route: list[str]) -> Response | Deferred:
        path = request.path
        if path == "/metrics":
            route[0] = "/metrics"
            if request.method not in ("GET", "HEAD"):
                raise MethodNotAllowed(request.method, ("GET", "HEAD"))
            return self.metrics_page()
        if wants_html(request):
            route[0] = "/"
            return page()
        if self.legacy is not None and not path.startswith("/api/"):
            route[0] = "(legado)"
            return self.legacy.handle(request)
        if request.method == "OPTIONS":
            found = self.router.route_for(path)
            if found is None:
                self.router.resolve("GET", path)  # raises the 404
            route[0] = found.path
            return Response(HTTPStatus.NO_CONTENT, (("allow", ", ".join(Router.allowed(found))),) + CORS_PREFLIGHT)
        match = self.router.resolve(request.method, path)
        route[0] = match.route
        return match.handler(Call(self, request, {}), **match.params)

    def attach_server(self, open_connections: Callable[[], int]) -> None:
        """Lets /metrics report the network layer's open connections."""
        self._open_connections = open_connections

    def metrics_page(self) -> Response:
        def gauges() -> dict[str, tuple[str, float]]:
            stats = self.readings.stats()
            now_ms = time.time() * 1000
            seen = 0
            for meter in self.meters.all():
                last = self.readings.last(meter.id)
                if last is not None and now_ms - last.ts_ms <= SEEN_WINDOW_S * 1000:
                    seen += 1
            return {
                "monitor_store_bytes": ("Bytes do diário e dos segmentos de leituras em disco.", stats["bytes_disco"]),
                "monitor_readings_stored": ("Leituras guardadas.", stats["leituras"]),
                "monitor_meters": ("Medidores cadastrados.", len(self.meters.all())),
                "monitor_meters_seen": (f"Medidores com leitura nos últimos {SEEN_WINDOW_S} s.", seen),
                "monitor_open_connections": ("Conexões HTTP abertas.", self._open_connections()),
                "monitor_uptime_seconds": ("Segundos desde o início.", time.time() - self.started),
            }

        body = self.metrics.render(gauges).encode("utf-8")
        return Response(HTTPStatus.OK, (("content-type", "text/plain; version=0.0.4; charset=utf-8"),), body)

    def health(self, call: Call) -> Response:
        stats = self.readings.stats()
        return ok({
            "estado": "ok", "versao": VERSION, "desde_s": round(time.time() - self.started, 1),
            "medidores": len(self.meters.all()),
            "armazenamento": {"documentos": str(self.docs.path) if self.docs.path else "memória", **stats},
        })

    def start(self) -> None:
        # Readings imported or ingested before a restart may already pass a limit this month.
        now = int(time.time() * 1000)
        for meter in self.meters.all():
            self.alerts.check_month(meter, now)
        self.live.start()
        self.watcher.start()

    def close(self) -> None:
        """Stop the app's threads, then flush and close the stores (in that order)."""
        self.watcher.stop()
        self.live.stop()
        self.readings.close()
        self.docs.close()
