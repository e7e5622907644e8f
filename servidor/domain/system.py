"""The server's own state for `/saude` and `/metrics`: up or degraded, and why; counts and sizes.

Degraded means a store cannot do its work now: its own health check says so (contract 4:
`health() -> (ok, reason)`), or a store operation failed with a StoreError in the last
DEGRADED_FOR_S seconds. Nothing here names a path: `/saude` is open to anyone.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Sequence

from servidor.domain.registry import MeterRegistry
from servidor.store.interface import ReadingsBackend

# After a store failure, /saude stays "degradado" until the stores' own checks say it recovered,
# or this long when no check saw it: long enough for a monitor polling every 30 s to see it.
DEGRADED_FOR_S = 60.0
# "Meters seen" counts meters whose last reading is newer than this.
SEEN_WINDOW_S = 300

HealthCheck = Callable[[], tuple[bool, str | None]]


class SystemStatus:
    def __init__(self, readings: ReadingsBackend, registry: MeterRegistry, version: str, *,
                 documents: str, checks: Sequence[HealthCheck] = (), clock: Callable[[], float] = time.time) -> None:
        """`documents` names the document store for people ("db.json", "memória"), never a path."""
        self._readings = readings
        self._registry = registry
        self.version = version
        self._documents = documents
        self._checks = list(checks)
        self._clock = clock
        self.started = clock()
        self._lock = threading.Lock()
        self._failure: tuple[float, str] | None = None
        self._confirmed = False

    def add_check(self, check: HealthCheck) -> None:
        self._checks.append(check)

    def store_failed(self, reason: str) -> None:
        with self._lock:
            self._failure = (self._clock(), reason)
            self._confirmed = False

    def problems(self) -> list[str]:
        """What is wrong now. A store failure a request met counts until the stores' checks,
        having reported a problem since, report none again (space came back), or else for
        DEGRADED_FOR_S (a store without a check, or one whose check never saw the problem)."""
        found = []
        for check in self._checks:
            try:
                ok, reason = check()
            except Exception as exc:  # a health check that fails is itself the problem
                ok, reason = False, f"verificação falhou: {type(exc).__name__}"
            if not ok:
                found.append(reason or "indisponível")
        with self._lock:
            if self._failure is not None:
                if found:
                    self._confirmed = True
                elif self._confirmed or self._clock() - self._failure[0] >= DEGRADED_FOR_S:
                    self._failure = None
                if self._failure is not None and self._failure[1] not in found:
                    found.append(self._failure[1])
        return found

    def health(self) -> dict[str, Any]:
        problems = self.problems()
        storage: dict[str, Any] = {"documentos": self._documents}
        try:
            storage.update(self._readings.stats())
        except Exception as exc:
            problems.append(getattr(exc, "reason", None) or "leituras indisponíveis")
            storage["leituras"] = 0
        answer: dict[str, Any] = {
            "estado": "degradado" if problems else "ok", "versao": self.version,
            "desde_s": round(self._clock() - self.started, 1), "medidores": len(self._registry.all()),
            "armazenamento": storage,
        }
        if problems:
            answer["motivo"] = "; ".join(problems)
        return answer

    def gauges(self, open_connections: int) -> dict[str, tuple[str, float]]:
        stats = self._readings.stats()
        now_ms = self._clock() * 1000
        meters = self._registry.all()
        seen = 0
        for meter in meters:
            last = self._readings.last(meter.stream)
            if last is not None and now_ms - last.ts_ms <= SEEN_WINDOW_S * 1000:
                seen += 1
        return {
            "monitor_store_bytes": ("Bytes do diário e dos segmentos de leituras em disco.", stats["bytes_disco"]),
            "monitor_readings_stored": ("Leituras guardadas.", stats["leituras"]),
            "monitor_meters": ("Medidores cadastrados.", len(meters)),
            "monitor_meters_seen": (f"Medidores com leitura nos últimos {SEEN_WINDOW_S} s.", seen),
            "monitor_open_connections": ("Conexões HTTP abertas.", open_connections),
            "monitor_uptime_seconds": ("Segundos desde o início.", self._clock() - self.started),
            "monitor_degraded": ("1 quando o armazenamento está degradado.", 1 if self.problems() else 0),
        }
