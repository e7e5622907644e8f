"""Monthly partitions of the readings table, created on demand before an append needs them.

A month query touches one or two partitions, each with its own (stream, ts, seq) primary-key
index: its cost depends on the month's readings, not on the billions in the table, and an old
month can be detached or dropped whole.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Sequence

from .database import Database
from .migrations import FAR_START_MS, MIGRATION_LOCK


def month_of(ts_ms: int) -> tuple[int, int] | None:
    """(year, month) of a UTC instant, None when it falls in the far partition."""
    if ts_ms >= FAR_START_MS:
        return None
    moment = datetime.fromtimestamp(ts_ms / 1000, timezone.utc)
    return moment.year, moment.month


def _bounds(year: int, month: int) -> tuple[int, int]:
    start = datetime(year, month, 1, tzinfo=timezone.utc)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=timezone.utc)
    return int(start.timestamp()) * 1000, int(end.timestamp()) * 1000


class Partitions:
    """The months that have a partition; `ensure` creates the missing ones (any server may)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._known: set[tuple[int, int]] = set()
        with db.transaction() as conn:
            rows = conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent "
                "WHERE p.relname = 'readings' AND p.relnamespace = current_schema()::regnamespace").fetchall()
        for (name,) in rows:
            if name[len("readings_"):].isdigit():
                self._known.add((int(name[9:13]), int(name[13:15])))

    def ensure(self, timestamps: Sequence[int]) -> None:
        """Every month from the earliest to the latest of `timestamps` has its partition (a
        batch spanning months may leave one in between empty: two bounds, not a date per reading).
        The far partition always exists: stamps in it do not count."""
        if not timestamps:
            return
        low, high = min(timestamps), max(timestamps)
        if high >= FAR_START_MS:
            monthly = [ts for ts in timestamps if ts < FAR_START_MS]
            if not monthly:
                return
            low, high = min(monthly), max(monthly)
        first, last = month_of(low), month_of(high)
        months = {(y, m) for y in range(first[0], last[0] + 1) for m in range(1, 13)
                  if first <= (y, m) <= last} - self._known
        if not months:
            return
        with self._lock, self._db.transaction() as conn:
            # Two servers creating the same month at once: the second waits, then finds it.
            # Creating a partition briefly locks the whole table: once a month, at its first reading.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            for year, month in sorted(months):
                start, end = _bounds(year, month)
                conn.execute(f"CREATE TABLE IF NOT EXISTS readings_{year:04d}{month:02d} "
                             f"PARTITION OF readings FOR VALUES FROM ({start}) TO ({end})")
        self._known |= months
