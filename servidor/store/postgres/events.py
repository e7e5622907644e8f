"""PostgresEvents: energy-sensors' events (the EventStore interface, servidor/store/events) in the
database every server shares.

Each event is one row holding the same JSON line the embedded store writes to its file (text,
not jsonb: a client's lone surrogate travels escaped, which jsonb would refuse) and its features.
The count of stored events is one row, incremented in the event's transaction, so every server
sees the same count (the clustering recomputes every N events) without counting the table.
"""
from __future__ import annotations

import json
from typing import Iterator, Sequence

from servidor.store.events import EventEntry

from .database import Database

# Events read per round trip by `entries`.
PAGE_EVENTS = 5_000


class PostgresEvents:
    """Append-only, thread-safe, committed before `append` returns."""

    def __init__(self, db: Database, width: int) -> None:
        self._db = db.acquire()
        self._width = width
        self._closed = False

    def append(self, event: dict, features: Sequence[float], received_ms: int) -> int:
        """Store one event; how many are stored (over every server). StorageFull /
        StorageUnavailable with nothing stored."""
        return self.append_many([EventEntry(event, tuple(features), received_ms)])

    def append_many(self, entries: Sequence[EventEntry]) -> int:
        """Store the events in order in one transaction (`servidor migrar`); how many are stored."""
        for entry in entries:
            if len(entry.features) != self._width:
                raise ValueError(f"expected {self._width} features")
        with self._db.transaction() as conn:
            if entries:
                with conn.cursor() as cursor:
                    cursor.executemany("INSERT INTO sensor_events (received_ms, features, line) VALUES (%s, %s, %s)",
                                       [(e.received_ms, [float(f) for f in e.features], e.text()) for e in entries])
            return conn.execute("UPDATE sensor_event_count SET events = events + %s RETURNING events",
                                (len(entries),)).fetchone()[0]

    def entries(self, start: int = 0) -> Iterator[EventEntry]:
        """The stored events from the `start`-th on, in order, a page at a time."""
        after = None
        while True:
            with self._db.transaction() as conn:
                if after is None:
                    rows = conn.execute("SELECT id, line FROM sensor_events ORDER BY id OFFSET %s LIMIT %s",
                                        (start, PAGE_EVENTS)).fetchall()
                else:
                    rows = conn.execute("SELECT id, line FROM sensor_events WHERE id > %s ORDER BY id LIMIT %s",
                                        (after, PAGE_EVENTS)).fetchall()
            for _, line in rows:
                yield EventEntry.parse(line)
            if len(rows) < PAGE_EVENTS:
                return
            after = rows[-1][0]

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
