"""The application wired together: stores → domain services → API dispatcher (→ network server).

Only wiring lives here: which service gets which store, which routes exist, which server
answers. `App.handle(request)` answers one request; `App.listen()` gives the socket server.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from servidor.api import openapi
from servidor.api.dispatch import CORS, Dispatcher
from servidor.api.envelope import error_response
from servidor.api.legacy import body_until_close
from servidor.api.metrics import Metrics
from servidor.api.routes import build_router
from servidor.api.system import SystemRoutes
from servidor.domain.alerts import Alerts
from servidor.domain.auth import Role
from servidor.domain.blinks import Blinks
from servidor.domain.clusters import DEFAULT_EVERY, ClusterWorker
from servidor.domain.event_line import FEATURE_WIDTH
from servidor.domain.events import EventService
from servidor.domain.categories import configure_streams
from servidor.domain.commands import CommandQueue
from servidor.domain.consumption import Consumption
from servidor.domain.gate import HeavyReads
from servidor.domain.history import History
from servidor.domain.housekeeping import INTERVAL_S, Housekeeper
from servidor.domain.ingest import Ingest
from servidor.domain.invoices import Invoices
from servidor.domain.key_requests import KeyRequests
from servidor.domain.keys import SCRYPT_N, KeyRing
from servidor.domain.legacy import LegacyMeters
from servidor.domain.live import WaiterHub
from servidor.domain.meter_service import MeterService
from servidor.domain.registry import MeterRegistry
from servidor.domain.seed import import_seed_readings
from servidor.domain.services import Services
from servidor.domain.site_flows import SiteFlows
from servidor.domain.sites import SiteBook, SiteService
from servidor.domain.system import HealthCheck, SystemStatus
from servidor.domain.tariff_comparison import TariffComparison
from servidor.domain.tariffs import TariffBook
from servidor.domain.usage_profile import UsageReader
from servidor.domain.views import MeterViews
from servidor.net import DEFAULT_SERVER_LIMITS, HttpServer, ServerLimits
from servidor.notify.webhooks import WebhookSender
from servidor.store.blinks import BlinkStore
from servidor.store import backup
from servidor.store.events import EventStore
from servidor.store.inbox import Inbox, inbox_dir
from servidor.store.interface import DocumentsBackend, ReadingsBackend

VERSION = "0.1.0"
# Handler threads. Python runs one at a time (the GIL), so more threads only add switching;
# 8 still lets 8 concurrent writers share one journal fsync (bench/RESULTS.md).
DEFAULT_WORKERS = 8


@dataclass(frozen=True, slots=True)
class Settings:
    default_zone: str = "America/Sao_Paulo"
    legacy: bool = True
    admin_key: str | None = None         # MONITOR_CHAVE_ADMIN
    registration_key: str | None = None  # MONITOR_CHAVE_REGISTRO
    housekeeping_s: float = INTERVAL_S
    # scrypt cost for the keys above; tests lower it (each check costs ~65 ms at the default).
    key_cost: int = SCRYPT_N
    # The wall clock of ingest, alerts and housekeeping; tests drive one clock through all three.
    clock: Callable[[], float] = time.time
    # Alerts POSTed to each meter's webhook_url; the tests' servers leave it off, since a fuzzed
    # URL must never be called from this machine.
    webhooks: bool = True
    # energy-sensors' clusters are recomputed each time this many more events are stored.
    clusters_every: int = DEFAULT_EVERY

    @classmethod
    def from_env(cls, **overrides: Any) -> "Settings":
        return cls(admin_key=os.environ.get("MONITOR_CHAVE_ADMIN") or None,
                   registration_key=os.environ.get("MONITOR_CHAVE_REGISTRO") or None, **overrides)


def readings_dir(db_path: Path) -> Path:
    """The journal lives beside the document store: db.json → db.leituras/."""
    return db_path.with_name(db_path.stem + ".leituras")


def blinks_dir(db_path: Path) -> Path:
    """Blink points of pulse meters live beside the readings: db.json → db.pulsos/."""
    return db_path.with_name(db_path.stem + ".pulsos")


def events_dir(db_path: Path) -> Path:
    """energy-sensors' events beside the documents: db.json → db.eventos/."""
    return db_path.with_name(db_path.stem + ".eventos")


def _health_checks(*stores: object) -> list[HealthCheck]:
    # Contract 4: a store that can tell its own health exposes `health() -> (ok, reason)`.
    return [check for check in (getattr(s, "health", None) for s in stores) if callable(check)]


def _documents_label(docs: DocumentsBackend) -> str:
    """The document store for people: "db.json", "memória", or a database URL without password."""
    label = getattr(docs, "label", None)
    return label or (docs.path.name if docs.path else "memória")


class App:
    def __init__(self, docs: DocumentsBackend, store: ReadingsBackend, settings: Settings = Settings(),
                 announce: Callable[[str], None] | None = print, blink_store: BlinkStore | None = None) -> None:
        """`announce` shows the admin and registration keys made because none is stored; the
        command line passes None and calls `make_missing_keys` once the server listens.
        `blink_store` defaults to db.pulsos/ beside the documents (in memory without a file), and
        energy-sensors' events go to db.eventos/; a document store that offers `side_stores`
        (PostgreSQL) keeps both itself, shared with the other servers on it."""
        self.settings = settings
        self._docs = docs
        self._store = store
        heavy = self.heavy_reads = HeavyReads()
        keys = KeyRing(docs, settings.key_cost)
        keys.bootstrap({Role.ADMIN: settings.admin_key, Role.REGISTRATION: settings.registration_key}, announce)
        registry = MeterRegistry(docs, keys, settings.default_zone)
        tariffs = TariffBook(docs)
        consumption = Consumption(store, heavy)
        usage = UsageReader(store)
        site_book = SiteBook(docs, keys, settings.default_zone)
        invoices = Invoices(docs, store, tariffs, heavy, usage, site_book.connection)
        alerts = Alerts(docs, store, consumption, started_ms=int(settings.clock() * 1000))
        commands = CommandQueue(docs, registry)
        history = History(store, heavy)
        live = WaiterHub(history.after_stream)
        # Appends through other servers on a shared database wake this server's long polls too.
        store.add_listener(live.notify)
        side_stores = getattr(docs, "side_stores", None)
        event_width = FEATURE_WIDTH
        if side_stores is not None and blink_store is None:
            blink_store, event_store = side_stores(event_width)
        else:
            event_store = EventStore(events_dir(docs.path) if docs.path else None, event_width)
        if blink_store is None:
            blink_store = BlinkStore.open(blinks_dir(docs.path)) if docs.path else BlinkStore.memory()
        self._blink_store = blink_store
        blinks = Blinks(blink_store, registry, clock=settings.clock)
        self.metrics = Metrics()
        configure_streams(store, registry.all())
        import_seed_readings(docs, registry, store)
        self.services = Services(
            keys=keys,
            meters=MeterService(registry, tariffs, store, alerts, invoices, commands,
                                MeterViews(store, consumption, invoices, alerts, commands), site_book.exists),
            ingest=Ingest(store, alerts, commands, live, self.metrics.ingested, clock=settings.clock,
                          blinks=blinks.record),
            history=history, live=live, consumption=consumption, invoices=invoices, alerts=alerts,
            commands=commands, tariffs=tariffs, comparison=TariffComparison(tariffs, usage, store, heavy,
                                                                                   site_book.connection),
            system=SystemStatus(store, registry, VERSION, documents=_documents_label(docs),
                                checks=_health_checks(store, docs)),
            sites=SiteService(site_book, registry.all), flows=SiteFlows(store, consumption, heavy),
            legacy=LegacyMeters(docs, lambda meter_id: registry.find(meter_id) is not None) if settings.legacy else None,
            blinks=blinks,
        )
        self.services.meters.on_delete.append(blinks.forget)
        self._event_store = event_store
        self._clusters = ClusterWorker(event_store.feature_rows, settings.clusters_every)
        self.services = replace(self.services, events=EventService(
            event_store, self.services.meters, self.services.ingest, store, self._clusters, clock=settings.clock,
            shared=bool(getattr(docs, "shared", False))))
        self.housekeeper = Housekeeper(registry, alerts, invoices, settings.housekeeping_s, clock=settings.clock)
        self.webhooks = WebhookSender() if settings.webhooks else None
        if self.webhooks is not None:
            alerts.on_open = self._alert_opened
        # `servidor chave nova` reaches a running server through a folder beside its files.
        # ... and so does `servidor backup`, which asks for a snapshot taken under the stores' locks.
        self.key_requests = KeyRequests(Inbox(inbox_dir(docs.path)), keys,
                                        others={"backup": self._backup}) if docs.path else None
        self._system_routes = SystemRoutes(self.metrics, lambda: openapi.document_bytes(
            self.router.routes(), version=VERSION))
        self.router = build_router(self._system_routes, with_legacy=settings.legacy)
        self.dispatcher = Dispatcher(self.services, self.router, self.metrics)
        self.handle = self.dispatcher.handle

    def listen(self, host: str = "127.0.0.1", port: int = 0, *, workers: int = DEFAULT_WORKERS,
               server_limits: ServerLimits = DEFAULT_SERVER_LIMITS) -> HttpServer:
        """The socket server for this app (not started). /metrics counts its connections."""
        server = HttpServer(self.handle, host, port, workers=workers, default_headers=CORS,
                            inline=(self.dispatcher.inline_route, self.dispatcher.handle_inline),
                            body_until_close=body_until_close if self.settings.legacy else None,
                            error_response=error_response, server_limits=server_limits)
        self._system_routes.open_connections = lambda: server.open_connections
        # An agent's reading is answered by the selector thread once on disk: the store hands
        # each fsync's answers to that thread at once (durable_waiter.py).
        deliver = getattr(self._store, "deliver_later_through", None)
        if deliver is not None:
            deliver(server.call_soon, server.after_each_round)
        for check in _health_checks(server):
            self.services.system.add_check(check)
        return server

    def start(self) -> None:
        """Start the app's threads. Readings imported or ingested before a restart may already
        pass a limit this month, so every meter's month is checked first."""
        now_ms = int(self.services.system.started * 1000)
        for meter in self.services.meters.all():
            self.services.alerts.check_month(meter, now_ms)
        self.services.live.start()
        if self.services.blinks is not None:
            self.services.blinks.hub.start()
        if self.services.events is not None:
            self._clusters.start(self.services.events.count)
        self.housekeeper.start()
        if self.key_requests is not None:
            self.key_requests.start()
        if self.webhooks is not None:
            self.webhooks.start()

    def _alert_opened(self, alert: dict) -> None:
        meter = self.services.meters.find(alert["medidor"])
        if meter is not None and meter.webhook_url and self.webhooks is not None:
            self.webhooks.send(meter.webhook_url, alert, f"alerta {alert['tipo']} de {meter.id}")

    def _backup(self, request: dict) -> dict:
        """A `servidor backup` request: the snapshot now, written to the absolute path it names."""
        destination = request.get("destino")
        if not isinstance(destination, str) or not os.path.isabs(destination):
            raise ValueError("destino deve ser um caminho absoluto")
        if not hasattr(self._store, "snapshot"):
            raise ValueError("este armazenamento de leituras não faz backup por aqui")
        # Only a store with files beside db.json takes requests (key_requests), so these are files too.
        snapshot = backup.take(self._docs, self._store, self._blink_store, self._event_store)  # type: ignore[arg-type]
        backup.write(snapshot, Path(destination))
        return {"ok": True, "leituras": snapshot.readings, "destino": destination}

    def make_missing_keys(self) -> list[str]:
        """The admin and registration keys made now because none is stored (each stored before
        this returns), as the lines that show them once."""
        return self.services.keys.make_missing()

    def close(self) -> None:
        """Stop the app's threads (recording issued invoices), then close the stores."""
        if self.key_requests is not None:
            self.key_requests.stop()
        self.housekeeper.stop()
        if self.webhooks is not None:
            self.webhooks.stop()
        self.services.live.stop()
        if self.services.blinks is not None:
            self.services.blinks.hub.stop()
        self._clusters.stop()
        self._blink_store.close()
        self._event_store.close()
        self._store.close()
        self._docs.close()
