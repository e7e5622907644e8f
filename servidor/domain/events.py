"""energy-sensors' events: storing them, the live view of the sensor that sent each, clusters.

An event is stored durably first (servidor.store.events); then its active power feeds the live
view of the meter `sensor-<ID>`, created on first sight, as an estimated reading (the energy is
power integrated between events). That second step can only fail into the log: the event is
stored and the device is told so.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from servidor.domain.clusters import ClusterWorker
from servidor.domain.errors import DomainError
from servidor.domain.event_line import EventError, Features, features
from servidor.domain.ingest import Ingest
from servidor.domain.meter_service import MeterService
from servidor.domain.meters import Meter
from servidor.store.events import EventStore
from servidor.store.interface import ReadingsBackend
from shared.models import MAX_FUTURE_SKEW_MS

log = logging.getLogger("servidor.eventos")

SENSOR_PREFIX = "sensor-"
# Meters made from events at most: the route is open (devices send no key), so an endless
# stream of made-up IDs must not make endless meters. Events of further IDs are still stored.
MAX_SENSOR_METERS = 256
# Power is integrated into energy only across gaps up to this long; a longer gap (a device that
# was off, a replay of old files) adds nothing rather than a guess.
MAX_INTEGRATION_GAP_MS = 15 * 60 * 1000


class EventService:
    def __init__(self, store: EventStore, meters: MeterService, ingest: Ingest, readings: ReadingsBackend,
                 workers: ClusterWorker, clock: Callable[[], float] = time.time, shared: bool = False) -> None:
        """`shared`: other servers store readings too (PostgreSQL), so a sensor meter's last
        reading is read from the store each time rather than remembered."""
        self._store = store
        self._shared = shared
        self._meters = meters
        self._ingest = ingest
        self._readings = readings
        self.clusters = workers
        self._clock = clock
        self._lock = threading.Lock()
        # meter id → (seq, ts_ms, energy Wh) of its last reading made from an event
        self._last: dict[str, tuple[int, int, float]] = {}

    def store(self, event: dict[str, Any]) -> None:
        """Store one parsed event; EventError (nothing stored) when a required field is missing."""
        found = features(event)
        now_ms = int(self._clock() * 1000)
        with self._lock:
            count = self._store.append(event, found.values, now_ms)
            try:
                self._feed(found, now_ms)
            except Exception:
                log.exception("evento do sensor %s gravado, mas a visão ao vivo não foi atualizada", found.sensor)
        self.clusters.stored(count)

    def summary(self) -> dict[str, Any]:
        return {"clusters": self.clusters.summary}

    @property
    def count(self) -> int:
        return self._store.count

    def _feed(self, found: Features, now_ms: int) -> None:
        meter = self._sensor_meter(found.sensor)
        if meter is None:
            return
        # With readings shared by several servers, another may have made the last one.
        seq, last_ts, energy = (None if self._shared else self._last.get(meter.id)) or self._resume(meter)
        ts = found.utc_ms if found.utc_ms is not None else now_ms
        ts = max(min(ts, now_ms + MAX_FUTURE_SKEW_MS // 2), last_ts + 1)
        gap = ts - last_ts
        if last_ts > 0 and gap <= MAX_INTEGRATION_GAP_MS and found.active_w > 0:
            energy += found.active_w * gap / 3_600_000
        seq += 1
        active, reactive, apparent, current, voltage = found.values[:5]
        body: dict[str, Any] = {"seq": seq, "ts": ts, "energia_wh": round(energy, 3), "potencia_w": active,
                                "PRT": reactive, "PAP": apparent, "IPF": [current], "TPF": [voltage],
                                "estimada": True}
        if found.hz is not None:
            body["FRE"] = found.hz
        try:
            self._ingest.submit(meter, body)
        except DomainError as exc:
            log.warning("evento do sensor %s gravado, mas a leitura ao vivo foi recusada: %s", found.sensor, exc)
            return
        self._last[meter.id] = (seq, ts, energy)

    def _resume(self, meter: Meter) -> tuple[int, int, float]:
        last = self._readings.last(meter.stream)
        return (-1, 0, 0.0) if last is None else (last.seq, last.ts_ms, last.energia_wh)

    def _sensor_meter(self, sensor: str) -> Meter | None:
        meter_id = SENSOR_PREFIX + sensor
        meter = self._meters.find(meter_id)
        if meter is not None:
            return meter
        made = sum(1 for m in self._meters.all() if m.id.startswith(SENSOR_PREFIX))
        if made >= MAX_SENSOR_METERS:
            log.warning("sensor %s: já há %d medidores de sensores; o evento foi gravado sem visão ao vivo",
                        sensor, made)
            return None
        meter, _ = self._meters.create({"id": meter_id, "nome": f"energy-sensors {sensor}"})
        log.info("medidor %s criado para os eventos do sensor %s", meter_id, sensor)
        return meter


__all__ = ["EventError", "EventService"]
