"""Alerts: raised from the rules in `servidor.alert_rules`, kept in the document store, each
(meter, key) at most once; a watcher thread raises the "meter went silent" alerts."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any, Callable

from shared.models import Reading
from servidor.alert_rules import Finding, evaluate_month, evaluate_silence, reset_finding
from servidor.domain.consumption import Consumption
from servidor.domain.meters import Meter, MeterRegistry, now_iso
from servidor.errors import NotFound
from servidor.store.documents import DocumentStore
from servidor.store.interface import ReadingsBackend
from servidor.store.readings import AppendResult

ALERTS = "alertas"
# How often the watcher looks for silent meters: a tenth of the shortest silence threshold (60 s)
# is frequent enough and costs one dictionary walk.
SILENCE_CHECK_S = 30.0
# Where to look for the counter value before a reset, to say in the alert what it dropped from.
RESET_LOOKBACK_MS = 24 * 3600 * 1000
RESET_LOOKBACK_ROWS = 10_000
log = logging.getLogger("servidor.alertas")


class Alerts:
    def __init__(self, docs: DocumentStore, readings: ReadingsBackend, consumption: Consumption, meters: MeterRegistry) -> None:
        self._docs = docs
        self._readings = readings
        self._consumption = consumption
        self._meters = meters
        self._lock = threading.Lock()
        self._by_meter: dict[str, list[dict[str, Any]]] = {}
        for doc in docs.all(ALERTS):
            self._by_meter.setdefault(doc["medidor"], []).append(doc)

    def raise_finding(self, meter_id: str, finding: Finding) -> dict[str, Any] | None:
        """Store the alert unless this (meter, key) was raised before; returns the new alert."""
        with self._lock:
            existing = self._by_meter.setdefault(meter_id, [])
            if any(a["chave"] == finding.chave for a in existing):
                return None
            alert = {
                "id": uuid.uuid4().hex[:12], "medidor": meter_id, "tipo": finding.tipo, "chave": finding.chave,
                "mensagem": finding.mensagem, "criado_em": now_iso(), "reconhecido": False, "reconhecido_em": None,
            }
            self._docs.upsert(ALERTS, "id", alert)
            existing.append(alert)
        log.info("alerta %s para %s: %s", finding.tipo, meter_id, finding.mensagem)
        return alert

    def after_ingest(self, meter: Meter, result: AppendResult, now_ms: int) -> None:
        tz = meter.tz
        for reading in result.resets:
            before = self._readings_before(meter.id, reading)
            self.raise_finding(meter.id, reset_finding(reading.ts_ms, before, reading.energia_wh, tz))
        if result.aceitas:
            self.check_month(meter, now_ms)

    def _readings_before(self, meter_id: str, reading: Reading) -> float:
        # Resets are rare, so a bounded look back (a day of 10-s readings) is cheap enough here.
        rows = self._readings.readings(meter_id, reading.ts_ms - RESET_LOOKBACK_MS, reading.ts_ms, limit=RESET_LOOKBACK_ROWS)
        return rows[-1][0].energia_wh if rows else 0.0

    def check_month(self, meter: Meter, now_ms: int) -> None:
        if meter.limite_alerta_kwh is None:
            return
        kwh, window = self._consumption.month_kwh_now(meter, now_ms)
        findings = evaluate_month(meter.limite_alerta_kwh, kwh, now_ms, window.start_ms, window.end_ms,
                                  meter.tz, (window.year, window.month))
        for finding in findings:
            self.raise_finding(meter.id, finding)

    def check_silence(self, now_ms: int) -> None:
        for meter in self._meters.all():
            if meter.estado != "ativo":
                continue
            last = self._readings.last(meter.id)
            finding = evaluate_silence(last.ts_ms if last else None, now_ms, meter.silencio_s * 1000)
            if finding is not None:
                self.raise_finding(meter.id, finding)

    def list(self, meter_id: str) -> list[dict[str, Any]]:
        with self._lock:
            alerts = [dict(a) for a in self._by_meter.get(meter_id, [])]
        return sorted(alerts, key=lambda a: a["criado_em"], reverse=True)

    def active(self, meter_id: str) -> list[dict[str, Any]]:
        return [a for a in self.list(meter_id) if not a["reconhecido"]]

    def acknowledge(self, meter_id: str, alert_id: str) -> dict[str, Any]:
        with self._lock:
            for alert in self._by_meter.get(meter_id, []):
                if alert["id"] == alert_id:
                    if not alert["reconhecido"]:
                        updated = {**alert, "reconhecido": True, "reconhecido_em": now_iso()}
                        self._docs.upsert(ALERTS, "id", updated)
                        alert.update(updated)
                    return dict(alert)
        raise NotFound(f"alerta {alert_id} não existe no medidor {meter_id}")

    def forget_meter(self, meter_id: str) -> None:
        with self._lock:
            self._by_meter.pop(meter_id, None)
            self._docs.delete(ALERTS, "medidor", meter_id)


class SilenceWatcher:
    """Owns the thread that raises silence alerts; `stop()` ends and joins it."""

    def __init__(self, check: Callable[[int], None], interval_s: float = SILENCE_CHECK_S) -> None:
        self._check = check
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="silence-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._check(int(time.time() * 1000))
            except Exception:  # a bad meter must not end the watcher for all the others
                log.exception("falha ao verificar medidores silenciosos")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
