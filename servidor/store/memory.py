"""MemoryReadings: the readings interface held in memory only, for tests and throw-away servers.

The same in-memory structures as the embedded store (columns per stream, rollups kept on
ingest) without the journal: nothing survives the process. It is the reference the contract
suite (tests/test_store_contract.py) holds the durable backends to.
"""
from __future__ import annotations

import logging
import threading
from datetime import timezone, tzinfo
from typing import Callable, Sequence

from shared.models import Reading

from .readings import AppendResult, StreamDeleted
from .readings.block import Columns
from .readings.codec import encode_meter_id
from .readings.columns import MeterColumns
from .readings.flows import MONOTONIC, FlowPolicy
from .readings.queries import ColumnQueries
from .readings.rollups import MeterRollup

log = logging.getLogger(__name__)


class MemoryReadings(ColumnQueries):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._meters: dict[str, MeterColumns] = {}
        self._zones: dict[str, tzinfo] = {}
        self._policies: dict[str, FlowPolicy] = {}
        self._deleted: set[str] = set()
        self._arrived: dict[str, int] = {}
        self._listeners: list[Callable[[str, int], None]] = []

    def append(self, meter_id: str, readings: Sequence[Reading], *, arrived_ms: int | None = None) -> AppendResult:
        encode_meter_id(meter_id)
        resets: list[Reading] = []
        with self._lock:
            if meter_id in self._deleted:
                raise StreamDeleted(meter_id)
            meter = self._meters.get(meter_id)
            if meter is None:
                meter = MeterColumns(MeterRollup(self._zones.get(meter_id, timezone.utc)),
                                     self._policies.get(meter_id, MONOTONIC))
            accepted, duplicates = meter.partition(readings) if readings else ((), 0)
            if accepted:
                resets = meter.insert(Columns.from_readings(accepted))
                self._meters[meter_id] = meter
                if arrived_ms is not None:
                    self._arrived[meter_id] = arrived_ms
            last_seq = meter.max_seq
        if accepted:
            for listener in list(self._listeners):
                try:
                    listener(meter_id, last_seq)
                except Exception:
                    log.exception("ouvinte de leituras falhou para %s", meter_id)
        return AppendResult(len(accepted), duplicates, last_seq, tuple(resets))

    def _meter(self, meter_id: str) -> MeterColumns | None:
        meter = self._meters.get(meter_id)
        return meter if meter is not None and len(meter) else None

    def set_timezone(self, meter_id: str, tz: tzinfo) -> None:
        with self._lock:
            self._zones[meter_id] = tz
            meter = self._meters.get(meter_id)
            if meter is not None:
                meter.set_timezone(tz)

    def set_flow(self, meter_id: str, policy: FlowPolicy) -> None:
        with self._lock:
            self._policies[meter_id] = policy
            meter = self._meters.get(meter_id)
            if meter is not None:
                meter.set_policy(policy)

    def delete_meter(self, meter_id: str) -> None:
        encode_meter_id(meter_id)
        with self._lock:
            self._deleted.add(meter_id)
            self._meters.pop(meter_id, None)
            self._arrived.pop(meter_id, None)
            self._zones.pop(meter_id, None)
            self._policies.pop(meter_id, None)

    def is_deleted(self, meter_id: str) -> bool:
        with self._lock:
            return meter_id in self._deleted

    def meters(self) -> list[str]:
        with self._lock:
            return sorted(m for m, meter in self._meters.items() if len(meter))

    def deleted_streams(self) -> list[str]:
        with self._lock:
            return sorted(self._deleted)

    def health(self) -> tuple[bool, str | None]:
        return True, None

    def add_listener(self, callback: Callable[[str, int], None]) -> None:
        with self._lock:
            self._listeners.append(callback)

    def stats(self) -> dict:
        with self._lock:
            live = [m for m in self._meters.values() if len(m)]
            return {"leituras": sum(len(m) for m in live), "medidores": len(live), "bytes_disco": 0,
                    "bytes_diario": 0, "segmentos": 0}

    def close(self) -> None:
        pass
