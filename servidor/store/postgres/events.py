"""PostgresEvents: energy-sensors' events (the EventStore interface, servidor/store/events) in the
database every server shares.

Each event is one row holding the same JSON line the embedded store writes to its file (text,
not jsonb: a client's lone surrogate travels escaped, which jsonb would refuse) and its features.
The count of stored events is one row, incremented in the event's transaction, so every server
sees the same count (the clustering recomputes every N events) without counting the table.
"""
from __future__ import annotations

import json
from typing import Sequence

from .database import Database


class PostgresEvents:
    """Append-only, thread-safe, committed before `append` returns."""

    def __init__(self, db: Database, width: int) -> None:
        self._db = db.acquire()
        self._width = width
        self._closed = False

    def append(self, event: dict, features: Sequence[float], received_ms: int) -> int:
        """Store one event; how many are stored (over every server). StorageFull /
        StorageUnavailable with nothing stored."""
        if len(features) != self._width:
            raise ValueError(f"expected {self._width} features")
        line = json.dumps({"recebido_ms": received_ms, "f": list(features), "evento": event},
                          separators=(",", ":"))
        with self._db.transaction() as conn:
            conn.execute("INSERT INTO sensor_events (received_ms, features, line) VALUES (%s, %s, %s)",
                         (received_ms, [float(f) for f in features], line))
            return conn.execute("UPDATE sensor_event_count SET events = events + 1 RETURNING events").fetchone()[0]

    @property
    def count(self) -> int:
        with self._db.transaction() as conn:
            return conn.execute("SELECT events FROM sensor_event_count").fetchone()[0]

    def feature_rows(self) -> list[list[float]]:
        """Every stored event's features, in the order they were stored."""
        with self._db.transaction() as conn:
            return [list(row[0]) for row in conn.execute("SELECT features FROM sensor_events ORDER BY id")]

    def events(self) -> list[dict]:
        """Every stored event as it was parsed."""
        with self._db.transaction() as conn:
            return [json.loads(row[0])["evento"] for row in conn.execute("SELECT line FROM sensor_events ORDER BY id")]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.release()
