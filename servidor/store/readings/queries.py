"""The read side of the stores that keep each stream's readings as columns in memory (the
embedded ReadingStore and MemoryReadings): one implementation, so both answer alike.

A store using it provides `_lock`, `_meter(meter_id)`, the stream's columns or None when it
has no readings (and checks it is open, where that applies), and `_arrived`, each stream's last
arrival (kept in memory: one process ingests into these stores).
"""
from __future__ import annotations

import threading
from datetime import date

from shared.models import Reading

from .columns import MeterColumns
from .rollups import check_aligned


class ColumnQueries:
    _lock: threading.Lock
    _arrived: dict[str, int]

    def _meter(self, meter_id: str) -> MeterColumns | None:
        raise TypeError(f"{type(self).__name__} must define _meter")

    def arrivals(self) -> dict[str, int]:
        with self._lock:
            return dict(self._arrived)

    def last(self, meter_id: str) -> Reading | None:
        """The latest reading by ts."""
        with self._lock:
            meter = self._meter(meter_id)
            return meter.reading(len(meter) - 1) if meter else None

    def previous(self, meter_id: str) -> Reading | None:
        """The reading before the latest by ts."""
        with self._lock:
            meter = self._meter(meter_id)
            return meter.reading(len(meter) - 2) if meter and len(meter) > 1 else None

    def count(self, meter_id: str) -> int:
        with self._lock:
            meter = self._meter(meter_id)
            return len(meter) if meter else 0

    def max_seq(self, meter_id: str) -> int | None:
        with self._lock:
            meter = self._meter(meter_id)
            return meter.max_seq if meter else None

    def first_ts(self, meter_id: str) -> int | None:
        with self._lock:
            meter = self._meter(meter_id)
            return meter.ts[0] if meter else None

    def readings(self, meter_id: str, start_ms: int | None = None, end_ms: int | None = None,
                 limit: int = 1000) -> list[tuple[Reading, bool]]:
        """Readings with start <= ts < end in ts order, at most `limit`, each with whether its
        counter is below the previous reading's (a reset)."""
        with self._lock:
            meter = self._meter(meter_id)
            if not meter:
                return []
            rows = meter.index_range(start_ms, end_ms)[:max(limit, 0)]
            return [(meter.reading(i), meter.is_reset(i)) for i in rows]

    def after_seq(self, meter_id: str, seq: int, limit: int = 1000) -> list[Reading]:
        """Readings with seq above `seq`, in seq order, at most `limit`."""
        with self._lock:
            meter = self._meter(meter_id)
            if not meter:
                return []
            return [meter.reading(i) for i in meter.indices_after_seq(seq, limit)]

    def after_key(self, meter_id: str, key: tuple[int, int] | None = None, limit: int = 1000) -> list[Reading]:
        """Readings above (ts, seq) `key` (from the first when None) in (ts, seq) order, at most
        `limit`: a whole stream read page by page, each page's last reading the next key."""
        with self._lock:
            meter = self._meter(meter_id)
            if not meter:
                return []
            start = meter.index_after(key)
            return [meter.reading(i) for i in range(start, min(len(meter), start + max(limit, 0)))]

    def energy(self, meter_id: str, start_ms: int, end_ms: int, *, exported: bool = False) -> tuple[float, int]:
        """(Wh, covered ms) in [start, end), both multiples of 15 min (else ValueError); with
        `exported`, the Wh a bidirectional counter went down by (flows.py)."""
        check_aligned(start_ms, end_ms)
        with self._lock:
            meter = self._meter(meter_id)
            return (meter.export if exported else meter.rollup).energy(start_ms, end_ms) if meter else (0.0, 0)

    def day_energy(self, meter_id: str, first: date, last: date, *,
                   exported: bool = False) -> dict[date, tuple[float, int]]:
        """(Wh, covered ms) per local day of the meter in [first, last], days with data only."""
        with self._lock:
            meter = self._meter(meter_id)
            return (meter.export if exported else meter.rollup).day_energy(first, last) if meter else {}
