"""PostgresBlinks: pulse meters' blinks (the BlinkStore interface, servidor/store/blinks) in the
database every server shares, so a blink posted to one server is seen by all.

One append is one transaction that locks the stream's row in `blink_streams` (the watermark of
reading seqs already stored and the last blink, against which exactly-once and ascending stamps
are judged), inserts the new points into `blinks` and adds them to `blink_hours`, blipserver's
hourly table. Two servers receiving the same meter at once therefore append one after the other,
as PostgresReadings does (docs/postgresql.md, "Row lock, not advisory lock").
"""
from __future__ import annotations

from typing import Iterator, Sequence

from servidor.store.blinks.codec import HOUR_MS, Hour, Point, hours_of

from .database import Database

# Points fetched per round trip when a range is read: a day of a busy meter is a few pages.
PAGE_POINTS = 10_000


class PostgresBlinks:
    """Thread-safe (each call takes its own pooled connection)."""

    def __init__(self, db: Database) -> None:
        self._db = db.acquire()
        self._closed = False

    # -- writing --------------------------------------------------------------------------------

    def append(self, stream: str, batches: Sequence[tuple[int, Sequence[Point]]]) -> int:
        """Store the blinks of each (reading seq, points), committed when this returns; how many
        were new. StorageFull / StorageUnavailable with nothing stored."""
        if not batches:
            return 0
        with self._db.transaction() as conn:
            conn.execute("INSERT INTO blink_streams (stream) VALUES (%s) ON CONFLICT DO NOTHING", (stream,))
            watermark, last_stamp = conn.execute(
                "SELECT watermark, last_stamp FROM blink_streams WHERE stream = %s FOR UPDATE", (stream,)).fetchone()
            fresh = [(seq, pts) for seq, pts in batches if seq > watermark]
            if not fresh:
                return 0
            points: list[Point] = []
            dropped = 0
            for _, pts in fresh:
                for stamp, ms in pts:
                    if last_stamp is not None and stamp <= last_stamp:
                        dropped += 1
                        continue
                    points.append((stamp, ms))
                    last_stamp = stamp
            if points:
                conn.execute("INSERT INTO blinks (stream, stamp, ms) "
                             "SELECT %s, * FROM unnest(%s::bigint[], %s::integer[])",
                             (stream, [p[0] for p in points], [p[1] for p in points]))
                rows = hours_of(points)
                conn.execute(
                    "INSERT INTO blink_hours (stream, start_ms, events, sum_ms, min_ms, max_ms) "
                    "SELECT %s, * FROM unnest(%s::bigint[], %s::integer[], %s::bigint[], %s::integer[], %s::integer[]) "
                    "ON CONFLICT (stream, start_ms) DO UPDATE SET events = blink_hours.events + EXCLUDED.events, "
                    "sum_ms = blink_hours.sum_ms + EXCLUDED.sum_ms, min_ms = least(blink_hours.min_ms, EXCLUDED.min_ms), "
                    "max_ms = greatest(blink_hours.max_ms, EXCLUDED.max_ms)",
                    (stream, [h.start_ms for h in rows], [h.events for h in rows], [h.sum_ms for h in rows],
                     [h.min_ms for h in rows], [h.max_ms for h in rows]))
            conn.execute(
                "UPDATE blink_streams SET watermark = %s, points = points + %s, dropped = dropped + %s, "
                "last_stamp = coalesce(%s, last_stamp), last_ms = coalesce(%s, last_ms) WHERE stream = %s",
                (max(seq for seq, _ in fresh), len(points), dropped,
                 points[-1][0] if points else None, points[-1][1] if points else None, stream))
        return len(points)

    def delete(self, stream: str) -> None:
        """Forget a stream's blinks (its meter was deleted)."""
        with self._db.transaction() as conn:
            conn.execute("SELECT 1 FROM blink_streams WHERE stream = %s FOR UPDATE", (stream,))
            for table in ("blinks", "blink_hours", "blink_streams"):
                conn.execute(f"DELETE FROM {table} WHERE stream = %s", (stream,))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.release()

    # -- reading --------------------------------------------------------------------------------

    def streams(self) -> list[str]:
        """The streams holding blinks (or a watermark), sorted."""
        with self._db.transaction() as conn:
            return [row[0] for row in conn.execute("SELECT stream FROM blink_streams ORDER BY stream")]

    def _stream_row(self, stream: str) -> tuple | None:
        with self._db.transaction() as conn:
            return conn.execute("SELECT watermark, last_stamp, last_ms, points FROM blink_streams WHERE stream = %s",
                                (stream,)).fetchone()

    def watermark(self, stream: str) -> int | None:
        row = self._stream_row(stream)
        return None if row is None or row[0] < 0 else row[0]

    def last(self, stream: str) -> Point | None:
        row = self._stream_row(stream)
        return None if row is None or row[1] is None else (row[1], row[2])

    def count(self, stream: str) -> int:
        row = self._stream_row(stream)
        return 0 if row is None else row[3]

    def between(self, stream: str, start: int, end: int | None = None) -> Iterator[Point]:
        """Points with start ≤ stamp < end (None: no end), ascending, read a page at a time."""
        stop = (1 << 63) - 1 if end is None else end
        while True:
            page = self._page(stream, start, stop, PAGE_POINTS)
            yield from page
            if len(page) < PAGE_POINTS:
                return
            start = page[-1][0] + 1

    def _page(self, stream: str, start: int, stop: int, limit: int) -> list[Point]:
        with self._db.transaction() as conn:
            return [(row[0], row[1]) for row in conn.execute(
                "SELECT stamp, ms FROM blinks WHERE stream = %s AND stamp >= %s AND stamp < %s ORDER BY stamp LIMIT %s",
                (stream, start, stop, limit))]

    def since(self, stream: str, start: int, limit: int) -> list[Point]:
        return self._page(stream, start, (1 << 63) - 1, limit) if limit > 0 else []

    def bucket_counts(self, stream: str, start: int, width: int, count: int) -> list[int]:
        """Blinks in each of `count` buckets of `width` ms from `start`: from the hourly table when
        the buckets are whole UTC hours, else counted from the points of the range."""
        totals = [0] * count
        end = start + width * count
        hourly = start % HOUR_MS == 0 and width % HOUR_MS == 0
        sql = ("SELECT (start_ms - %s) / %s, sum(events) FROM blink_hours WHERE stream = %s "
               "AND start_ms >= %s AND start_ms < %s GROUP BY 1" if hourly else
               "SELECT (stamp - %s) / %s, count(*) FROM blinks WHERE stream = %s "
               "AND stamp >= %s AND stamp < %s GROUP BY 1")
        with self._db.transaction() as conn:
            for bucket, events in conn.execute(sql, (start, width, stream, start, end)):
                totals[int(bucket)] = int(events)
        return totals

    def hours(self, stream: str, start: int, end: int) -> list[Hour]:
        """The hourly table's rows with start ≤ hour start < end, ascending."""
        with self._db.transaction() as conn:
            return [Hour(*row) for row in conn.execute(
                "SELECT start_ms, events, sum_ms, min_ms, max_ms FROM blink_hours "
                "WHERE stream = %s AND start_ms >= %s AND start_ms < %s ORDER BY start_ms", (stream, start, end))]

    def stats(self) -> dict:
        with self._db.transaction() as conn:
            points, dropped = conn.execute(
                "SELECT coalesce(sum(points), 0), coalesce(sum(dropped), 0) FROM blink_streams").fetchone()
            size = conn.execute("SELECT pg_total_relation_size('blinks') + pg_total_relation_size('blink_hours')"
                                ).fetchone()[0]
        return {"pulsos": int(points), "pulsos_bytes": int(size), "pulsos_fora_de_ordem": int(dropped)}
