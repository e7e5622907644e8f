"""The read side of PostgresReadings: every query of the readings interface.

Reads see committed appends of every server. Month queries read the rollups (one row per
15 minutes of a meter) by primary key; raw readings are read by (stream, ts, seq) within the
partitions the range touches.
"""
from __future__ import annotations

import threading
from datetime import date, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.models import Reading
from servidor.store.readings.block import make_reading
from servidor.store.readings.rollups import BUCKET_MS, apportion_span, check_aligned, local_midnight_ms, positive

from servidor.store.readings.flows import FlowPolicy, is_reset

from .database import Database
from .pairs import Point

COLUMNS = "seq, ts, energy, power, flags, measurements"
_ONE_DAY = timedelta(days=1)
# (buckets, spans) of energy in, and of what a bidirectional counter gave back.
ROLLUP_TABLES = (("rollup_buckets", "rollup_spans"), ("export_buckets", "export_spans"))


def zone_name(tz: tzinfo) -> str:
    """The IANA name of a zone (the domain gives ZoneInfo); UTC for anything else."""
    return getattr(tz, "key", None) or "UTC"


def _zone(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name) if name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def reading_of(row) -> Reading:
    seq, ts, energy, power, flags, blob = row
    return make_reading(seq, ts, energy, float("nan") if power is None else power, flags,
                        bytes(blob) if blob is not None else None)


def before(conn, meter_id: str, key: tuple[int, int], count: int, inclusive: bool = False) -> list[Point]:
    """The `count` stored readings before (ts, seq) `key` (and it, `inclusive`), in order."""
    rows = conn.execute(f"SELECT ts, seq, energy FROM readings WHERE stream = %s AND (ts, seq) {'<=' if inclusive else '<'} "
                        "(%s, %s) ORDER BY ts DESC, seq DESC LIMIT %s", (meter_id, *key, count + int(inclusive)))
    return [tuple(row) for row in reversed(rows.fetchall())]


def neighbourhood(conn, meter_id: str, lo: tuple[int, int], hi: tuple[int, int]) -> tuple[list[Point], list[Point]]:
    """(the 3 stored readings before `lo`, those and every stored reading up to the 2 after `hi`)
    in (ts, seq) order: every pair an insertion between lo and hi can change, and what a pair's
    flow looks back to (flows.py)."""
    first = before(conn, meter_id, lo, 3)
    inside = conn.execute("SELECT ts, seq, energy FROM readings WHERE stream = %s AND (ts, seq) >= (%s, %s) "
                          "AND (ts, seq) <= (%s, %s) ORDER BY ts, seq", (meter_id, *lo, *hi)).fetchall()
    after = conn.execute("SELECT ts, seq, energy FROM readings WHERE stream = %s AND (ts, seq) > (%s, %s) "
                         "ORDER BY ts, seq LIMIT 2", (meter_id, *hi)).fetchall()
    return first, first + [tuple(row) for row in (*inside, *after)]


class Reads:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._zones: dict[str, tzinfo] = {}

    def _stream(self, conn, meter_id: str):
        """(readings, max_seq, last_ts, last_seq, zone, bidirectional, max_power_w) of a live
        stream, None if none or deleted."""
        row = conn.execute("SELECT readings, max_seq, last_ts, last_seq, zone, bidirectional, max_power_w FROM streams "
                           "WHERE stream = %s AND NOT deleted AND readings > 0", (meter_id,)).fetchone()
        return row

    def last(self, meter_id: str) -> Reading | None:
        with self._db.transaction() as conn:
            state = self._stream(conn, meter_id)
            if state is None:
                return None
            row = conn.execute(f"SELECT {COLUMNS} FROM readings WHERE stream = %s AND ts = %s AND seq = %s",
                               (meter_id, state[2], state[3])).fetchone()
        return reading_of(row) if row else None

    def previous(self, meter_id: str) -> Reading | None:
        with self._db.transaction() as conn:
            state = self._stream(conn, meter_id)
            if state is None:
                return None
            row = conn.execute(f"SELECT {COLUMNS} FROM readings WHERE stream = %s AND (ts, seq) < (%s, %s) "
                               "ORDER BY ts DESC, seq DESC LIMIT 1", (meter_id, state[2], state[3])).fetchone()
        return reading_of(row) if row else None

    def count(self, meter_id: str) -> int:
        with self._db.transaction() as conn:
            state = self._stream(conn, meter_id)
        return int(state[0]) if state else 0

    def max_seq(self, meter_id: str) -> int | None:
        with self._db.transaction() as conn:
            state = self._stream(conn, meter_id)
        return state[1] if state else None

    def first_ts(self, meter_id: str) -> int | None:
        with self._db.transaction() as conn:
            if self._stream(conn, meter_id) is None:
                return None
            row = conn.execute("SELECT ts FROM readings WHERE stream = %s ORDER BY ts, seq LIMIT 1",
                               (meter_id,)).fetchone()
        return row[0] if row else None

    def readings(self, meter_id: str, start_ms: int | None = None, end_ms: int | None = None,
                 limit: int = 1000) -> list[tuple[Reading, bool]]:
        """Readings with start <= ts < end in (ts, seq) order, at most `limit`, each with whether
        its counter is below the previous reading's (a reset)."""
        if limit <= 0:
            return []
        lo = -1 if start_ms is None else start_ms
        hi = 2**63 - 1 if end_ms is None else end_ms
        with self._db.transaction() as conn:
            state = self._stream(conn, meter_id)
            if state is None:
                return []
            rows = conn.execute(f"SELECT {COLUMNS} FROM readings WHERE stream = %s AND ts >= %s AND ts < %s "
                                "ORDER BY ts, seq LIMIT %s", (meter_id, lo, hi, limit)).fetchall()
            if not rows:
                return []
            # A reset is judged from two readings before it to the one after it (flows.is_reset).
            first = before(conn, meter_id, (rows[0][1], rows[0][0]), 2)
            after = conn.execute("SELECT ts, seq, energy FROM readings WHERE stream = %s AND (ts, seq) > (%s, %s) "
                                 "ORDER BY ts, seq LIMIT 1", (meter_id, rows[-1][1], rows[-1][0])).fetchall()
        policy = FlowPolicy(state[5], state[6])
        ts = [p[0] for p in first] + [row[1] for row in rows] + [row[0] for row in after]
        energy = [p[2] for p in first] + [row[2] for row in rows] + [row[2] for row in after]
        out = []
        for n, row in enumerate(rows):
            i = len(first) + n
            reset = i > 0 and energy[i] < energy[i - 1] and is_reset(policy, ts, energy, i)
            out.append((reading_of(row), reset))
        return out

    def after_seq(self, meter_id: str, seq: int, limit: int = 1000) -> list[Reading]:
        if limit <= 0:
            return []
        with self._db.transaction() as conn:
            if self._stream(conn, meter_id) is None:
                return []
            rows = conn.execute(f"SELECT {COLUMNS} FROM readings WHERE stream = %s AND seq > %s ORDER BY seq LIMIT %s",
                                (meter_id, seq, limit)).fetchall()
        return [reading_of(row) for row in rows]

    def after_key(self, meter_id: str, key: tuple[int, int] | None = None, limit: int = 1000) -> list[Reading]:
        """Readings above (ts, seq) `key` (from the first when None) in (ts, seq) order, at most
        `limit`, by the primary key; `ts >=` lets the planner skip the months before the key."""
        if limit <= 0:
            return []
        with self._db.transaction() as conn:
            if self._stream(conn, meter_id) is None:
                return []
            if key is None:
                rows = conn.execute(f"SELECT {COLUMNS} FROM readings WHERE stream = %s ORDER BY ts, seq LIMIT %s",
                                    (meter_id, limit)).fetchall()
            else:
                rows = conn.execute(f"SELECT {COLUMNS} FROM readings WHERE stream = %s AND ts >= %s "
                                    "AND (ts, seq) > (%s, %s) ORDER BY ts, seq LIMIT %s",
                                    (meter_id, key[0], *key, limit)).fetchall()
        return [reading_of(row) for row in rows]

    def energy(self, meter_id: str, start_ms: int, end_ms: int, *, exported: bool = False) -> tuple[float, int]:
        """(Wh, covered ms) in [start, end), both multiples of 15 min (else ValueError); with
        `exported`, what a bidirectional counter gave back."""
        buckets, spans_table = ROLLUP_TABLES[exported]
        check_aligned(start_ms, end_ms)
        with self._db.transaction() as conn:
            if self._stream(conn, meter_id) is None:
                return 0.0, 0
            wh, covered = conn.execute(
                f"SELECT coalesce(sum(wh), 0), coalesce(sum(covered_ms), 0) FROM {buckets} "
                "WHERE stream = %s AND bucket >= %s AND bucket < %s",
                (meter_id, start_ms // BUCKET_MS, end_ms // BUCKET_MS)).fetchone()
            spans = conn.execute(f"SELECT t1, t2, wh FROM {spans_table} WHERE stream = %s AND t1 < %s AND t2 > %s",
                                 (meter_id, end_ms, start_ms)).fetchall()
        for t1, t2, span_wh in spans:
            wh += span_wh * (min(t2, end_ms) - max(t1, start_ms)) / (t2 - t1)
        return positive(float(wh), int(covered))

    def day_energy(self, meter_id: str, first: date, last: date, *,
                   exported: bool = False) -> dict[date, tuple[float, int]]:
        """(Wh, covered ms) per local day of the meter in [first, last], days with data only."""
        buckets, spans_table = ROLLUP_TABLES[exported]
        if last < first:
            return {}
        with self._db.transaction() as conn:
            state = self._stream(conn, meter_id)
            if state is None:
                return {}
            if state[4]:  # what set_timezone stored, through this server or another
                tz = _zone(state[4])
            else:
                with self._lock:
                    tz = self._zones.get(meter_id, timezone.utc)
            lo, hi = local_midnight_ms(first, tz), local_midnight_ms(last + _ONE_DAY, tz)
            rows = conn.execute(
                "SELECT (to_timestamp(bucket * %s) AT TIME ZONE %s)::date AS day, sum(wh), sum(covered_ms) "
                f"FROM {buckets} WHERE stream = %s AND bucket >= %s AND bucket < %s GROUP BY day",
                (BUCKET_MS // 1000, zone_name(tz), meter_id, -(-lo // BUCKET_MS), -(-hi // BUCKET_MS))).fetchall()
            spans = conn.execute(f"SELECT t1, t2, wh FROM {spans_table} WHERE stream = %s AND t1 < %s AND t2 > %s",
                                 (meter_id, hi, lo)).fetchall()
        out: dict[date, list] = {day: [float(wh), int(covered)] for day, wh, covered in rows}
        for t1, t2, span_wh in spans:
            apportion_span(t1, t2, span_wh, first, last, tz, out)
        return {day: positive(*out[day]) for day in sorted(out)}

    def arrivals(self) -> dict[str, int]:
        """Each stream's last arrival, whichever server took its readings."""
        with self._db.transaction() as conn:
            rows = conn.execute("SELECT stream, arrived_ms FROM streams WHERE arrived_ms IS NOT NULL AND NOT deleted")
            return dict(rows.fetchall())

    def is_deleted(self, meter_id: str) -> bool:
        with self._db.transaction() as conn:
            row = conn.execute("SELECT deleted FROM streams WHERE stream = %s", (meter_id,)).fetchone()
        return bool(row and row[0])

    def meters(self) -> list[str]:
        with self._db.transaction() as conn:
            rows = conn.execute("SELECT stream FROM streams WHERE NOT deleted AND readings > 0 ORDER BY stream")
            return [row[0] for row in rows]

    def deleted_streams(self) -> list[str]:
        with self._db.transaction() as conn:
            return [row[0] for row in conn.execute("SELECT stream FROM streams WHERE deleted ORDER BY stream")]

    def health(self) -> tuple[bool, str | None]:
        return self._db.health()

    def stats(self) -> dict:
        """Counts, and the bytes of the readings' tables and indexes."""
        with self._db.transaction() as conn:
            readings, meters = conn.execute(
                "SELECT coalesce(sum(readings), 0), count(*) FILTER (WHERE readings > 0) FROM streams "
                "WHERE NOT deleted").fetchone()
            size, partitions = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0), count(*) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
                "WHERE p.relname = 'readings' AND p.relnamespace = current_schema()::regnamespace").fetchone()
        return {"leituras": int(readings), "medidores": int(meters), "bytes_disco": int(size),
                "bytes_diario": 0, "segmentos": int(partitions)}
