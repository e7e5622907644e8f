"""PostgresReadings: the readings interface (`servidor.store.interface.ReadingsBackend`) on a
PostgreSQL database that several servers share.

One append is one transaction: lock the stream's row, store the readings not stored yet
(`ON CONFLICT DO NOTHING` on (stream, ts, seq)), change the rollups by the pairs it made, move
the stream's counters, commit; then NOTIFY the other servers (after the COMMIT, in its round trip,
not inside the transaction) and answer the agent.

Concurrency between servers: the stream's row in `streams` is locked (`SELECT … FOR UPDATE`)
for the length of the append. A row lock, not an advisory lock, because that row holds the state
that spans requests (the last reading, by which a counter reset is judged; the highest seq, by
which duplicates are told; the deleted flag), so locking and reading it is one statement, it is
released by the commit or rollback whatever happens to the server, and a deletion, which updates
the same row, waits for an append in flight and vice versa. Two servers receiving the same meter
at once therefore append one after the other, each seeing the other's readings.
"""
from __future__ import annotations

import logging
import threading
import uuid
from array import array
from datetime import tzinfo
from typing import Callable, Sequence

import psycopg

from shared.models import Reading
from servidor.store.readings import AppendResult, FlowPolicy, StreamDeleted
from servidor.store.readings.block import ESTIMADA, Columns
from servidor.store.readings.codec import encode_meter_id

from . import queries
from .binary_arrays import Float8Array, Int2Array, Int8Array
from .database import Database
from .live import NotificationListener, channel, listening, payload
from .pairs import FlowDelta, Point, merge
from .partitions import Partitions

log = logging.getLogger(__name__)

_LOCK_STREAM = ("SELECT deleted, max_seq, last_ts, last_seq, last_energy, bidirectional, max_power_w FROM streams "
                "WHERE stream = %s FOR UPDATE")
# The (up to) two readings at and before the stream's last: what the pairs of a batch landing after
# everything stored look back to. Read after the lock, so another server's append is seen whole.
_BEFORE_LAST = ("SELECT ts, seq, energy FROM readings WHERE stream = %s AND (ts, seq) <= "
                "(SELECT last_ts, last_seq FROM streams WHERE stream = %s) ORDER BY ts DESC, seq DESC LIMIT 2")
_INSERT = """
INSERT INTO readings (stream, ts, seq, energy, power, flags, measurements)
SELECT %s, ts, seq, energy, nullif(power, 'NaN'), flags, measurements
FROM unnest(%b, %b, %b, %b, %b, %b::bytea[]) AS batch (ts, seq, energy, power, flags, measurements)
ON CONFLICT DO NOTHING"""
_ROLLUP_UPSERT = """
INSERT INTO {buckets} (stream, bucket, wh, covered_ms)
SELECT %s, * FROM unnest(%b::bigint[], %b::float8[], %b::bigint[])
ON CONFLICT (stream, bucket) DO UPDATE
SET wh = {buckets}.wh + EXCLUDED.wh, covered_ms = {buckets}.covered_ms + EXCLUDED.covered_ms"""
_SPAN_UPSERT = """
INSERT INTO {spans} (stream, t1, t2, wh, pairs)
SELECT %s, * FROM unnest(%b::bigint[], %b::bigint[], %b::float8[], %b::int4[])
ON CONFLICT (stream, t1, t2) DO UPDATE
SET wh = {spans}.wh + EXCLUDED.wh, pairs = {spans}.pairs + EXCLUDED.pairs"""


class PostgresReadings(queries.Reads):
    """Readings of every stream in PostgreSQL, committed before `append` returns."""

    def __init__(self, db: Database, listen: bool = True) -> None:
        super().__init__(db.acquire())
        self._partitions = Partitions(db)
        self._listeners: list[Callable[[str, int], None]] = []
        self._instance = uuid.uuid4().hex[:12]
        self._channel = channel(db.schema)
        self._listener: NotificationListener | None = None
        self._closed = False
        self._close_lock = threading.Lock()
        if listen:
            self._listener = NotificationListener(db.url, self._channel, self._instance, self._tell)
            self._listener.start()

    # -- writes -------------------------------------------------------------------------------

    def append(self, meter_id: str, readings: Sequence[Reading], *, arrived_ms: int | None = None) -> AppendResult:
        """Store the readings not yet stored (by seq), committed when this returns, with
        `arrived_ms` as the stream's last arrival (for every server: `arrivals`).
        StreamDeleted for a deleted key; StorageUnavailable / StorageFull with nothing stored."""
        encode_meter_id(meter_id)
        # Columns, not a Reading each: the API's plain batches arrive as a ColumnBatch, and every
        # step below (bounds, the fresh check, the insert's text, the rollups' points) walks
        # typed arrays at C speed (bench/postgres_http.py: server CPU per batched reading).
        cols = Columns.from_readings(readings)
        if not len(cols):
            return AppendResult(0, 0, self.max_seq(meter_id))
        self._partitions.ensure(cols.ts)
        with self._db.connection() as conn:
            # Round trip 1: begin, lock the stream's row, read what precedes its last reading.
            state, before_last = _lock(conn, meter_id)
            if state is None:
                # A new stream, unless another server made it (and stored readings) meanwhile.
                conn.execute("INSERT INTO streams (stream) VALUES (%s) ON CONFLICT DO NOTHING", (meter_id,))
                state = conn.execute(_LOCK_STREAM, (meter_id,)).fetchone()
                before_last = _before_last(conn, meter_id)
            deleted, max_seq, last_ts, last_seq, last_energy, bidirectional, max_power_w = state
            if deleted:
                raise StreamDeleted(meter_id)
            fresh = _fresh(conn, meter_id, cols, max_seq)
            if not len(fresh):
                return AppendResult(0, len(cols), max_seq)   # the connection rolls back
            fresh = fresh.sorted_unique()
            points = list(zip(fresh.ts, fresh.seq, fresh.energia))
            last = (last_ts, last_seq, last_energy) if last_ts is not None else None
            policy = FlowPolicy(bidirectional, max_power_w)
            delta, dropped = _roll(conn, meter_id, points, last, before_last, policy)
            resets = _resets(conn, meter_id, dropped, fresh) if dropped else []
            top = max(fresh.seq)
            max_seq = top if max_seq is None else max(max_seq, top)
            newest = points[-1] if last is None or points[-1][:2] > last[:2] else last
            # Round trip 2: the writes, COMMIT, then the NOTIFY for the other servers as a statement
            # of its own. Inside the transaction it would serialise every commit on the database
            # (PostgreSQL holds the notification queue's lock through the WAL flush: no group commit).
            commit = None
            try:
                with conn.pipeline():
                    _insert(conn, meter_id, fresh)
                    _write_rollups(conn, meter_id, delta)
                    conn.execute("UPDATE streams SET readings = readings + %s, max_seq = %s, last_ts = %s, "
                                 "last_seq = %s, last_energy = %s, arrived_ms = coalesce(%s, arrived_ms) WHERE stream = %s",
                                 (len(fresh), max_seq, newest[0], newest[1], newest[2], arrived_ms, meter_id))
                    commit = conn.execute("COMMIT")
                    conn.execute("SELECT pg_notify(%s, %s)", (self._channel, payload(self._instance, meter_id, max_seq)))
            except psycopg.Error as exc:
                if commit is None or commit.statusmessage != "COMMIT":
                    raise
                # Committed: the agent is answered. Only other servers' long polls miss this
                # wake-up, and see the readings at their next poll.
                log.warning("leituras de %s gravadas; aviso aos outros servidores falhou: %s", meter_id, exc)
        self._tell(meter_id, max_seq)
        return AppendResult(len(fresh), len(cols) - len(fresh), max_seq, tuple(resets))

    def delete_meter(self, meter_id: str) -> None:
        """Kill stream `meter_id` forever: its readings and rollups go in the same transaction."""
        encode_meter_id(meter_id)
        with self._db.transaction() as conn:
            conn.execute("INSERT INTO streams (stream, deleted) VALUES (%s, true) ON CONFLICT (stream) DO UPDATE "
                         "SET deleted = true, readings = 0, max_seq = NULL, last_ts = NULL, last_seq = NULL, "
                         "last_energy = NULL, arrived_ms = NULL", (meter_id,))
            for table in ("readings", "rollup_buckets", "rollup_spans", "export_buckets", "export_spans"):
                conn.execute(f"DELETE FROM {table} WHERE stream = %s", (meter_id,))
        with self._lock:
            self._zones.pop(meter_id, None)

    def set_timezone(self, meter_id: str, tz: tzinfo) -> None:
        """Local days of `meter_id` are days in `tz` from now on, for every server on the database."""
        with self._lock:
            self._zones[meter_id] = tz
        name = queries.zone_name(tz)
        with self._db.transaction() as conn:
            conn.execute("INSERT INTO streams (stream, zone) VALUES (%s, %s) ON CONFLICT (stream) "
                         "DO UPDATE SET zone = EXCLUDED.zone WHERE streams.zone IS DISTINCT FROM EXCLUDED.zone",
                         (meter_id, name))

    def set_flow(self, meter_id: str, policy: FlowPolicy) -> None:
        """How the stream's counter moves (flows.py), for every server; a change rebuilds its
        rollups from its readings, in the transaction that records it."""
        with self._db.transaction() as conn:
            conn.execute("INSERT INTO streams (stream) VALUES (%s) ON CONFLICT DO NOTHING", (meter_id,))
            changed = conn.execute(
                "UPDATE streams SET bidirectional = %s, max_power_w = %s WHERE stream = %s "
                "AND (bidirectional, max_power_w) IS DISTINCT FROM (%s, %s) RETURNING readings",
                (policy.bidirectional, policy.max_power_w, meter_id, policy.bidirectional, policy.max_power_w)).fetchone()
            if changed is None or not changed[0]:
                return
            for table in ("rollup_buckets", "rollup_spans", "export_buckets", "export_spans"):
                conn.execute(f"DELETE FROM {table} WHERE stream = %s", (meter_id,))
            points = [tuple(row) for row in conn.execute(
                "SELECT ts, seq, energy FROM readings WHERE stream = %s ORDER BY ts, seq", (meter_id,))]
            delta = FlowDelta(policy)
            delta.add_pairs(points, 1)
            _write_rollups(conn, meter_id, delta)

    def add_listener(self, callback: Callable[[str, int], None]) -> None:
        """`callback(stream, max_seq)` after each committed append that stored something, made
        through this server or any other on the database."""
        with self._lock:
            self._listeners.append(callback)

    def servers_listening(self) -> int:
        """The servers running on this database and schema, other than this process's own."""
        with self._db.transaction() as conn:
            return listening(conn, self._channel)

    def _tell(self, meter_id: str, max_seq: int) -> None:
        for listener in list(self._listeners):
            try:
                listener(meter_id, max_seq)
            except Exception:
                log.exception("ouvinte de leituras falhou para %s", meter_id)

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            if self._listener is not None:
                self._listener.stop()
        finally:
            self._db.release()


def _lock(conn, meter_id: str) -> tuple[tuple | None, list[Point]]:
    """BEGIN, the stream's row locked (None if it has none yet) and the readings at and before
    its last, in (ts, seq) order: one round trip."""
    with conn.pipeline():
        conn.execute("BEGIN")
        state = conn.execute(_LOCK_STREAM, (meter_id,))
        rows = conn.execute(_BEFORE_LAST, (meter_id, meter_id))
    return state.fetchone(), [tuple(row) for row in reversed(rows.fetchall())]


def _before_last(conn, meter_id: str) -> list[Point]:
    return [tuple(row) for row in reversed(conn.execute(_BEFORE_LAST, (meter_id, meter_id)).fetchall())]


def _fresh(conn, meter_id: str, cols: Columns, max_seq: int | None) -> Columns:
    """The rows whose seq is neither stored nor earlier in the batch (the first one wins)."""
    seqs = cols.seq
    if (max_seq is None or min(seqs) > max_seq) and len(set(seqs)) == len(seqs):
        return cols  # the usual batch: every seq above what is stored
    stored: set[int] = set()
    if max_seq is not None:
        low = [s for s in seqs if s <= max_seq]
        if low:
            rows = conn.execute("SELECT seq FROM readings WHERE stream = %s AND seq = ANY(%s)", (meter_id, low))
            stored = {row[0] for row in rows}
    keep = []
    for i, seq in enumerate(seqs):
        if seq not in stored:
            stored.add(seq)
            keep.append(i)
    return cols if len(keep) == len(seqs) else cols.take(keep)


# Column `flags` stores 1 for an estimated reading: the flag byte's ESTIMADA bit.
_ESTIMATED = bytes(1 if b & ESTIMADA else 0 for b in range(256))


def _insert(conn, meter_id: str, cols: Columns) -> None:
    # The columns go as binary arrays (binary_arrays.py): neither a Python object per number nor
    # text for the database to parse. A missing power is NaN in the columns, stored as NULL.
    flags = array("h")
    flags.fromlist(list(cols.flags.tobytes().translate(_ESTIMATED)))
    conn.execute(_INSERT, (meter_id, Int8Array(cols.ts), Int8Array(cols.seq), Float8Array(cols.energia),
                           Float8Array(cols.potencia), Int2Array(flags), cols.medidas))


def _roll(conn, meter_id: str, points: list[Point], last: Point | None, before_last: list[Point],
          policy: FlowPolicy) -> tuple[FlowDelta, list[int]]:
    """The rollup change the new `points` (sorted) make, and the counter resets they confirm:
    new readings, or the stored one before them, whose drop the reading after them keeps.
    `before_last`: the stored readings at and before `last` (`_lock`)."""
    delta = FlowDelta(policy)
    if last is None or points[0][:2] > last[:2]:  # after everything stored
        before = before_last if last is not None else []
        chain = before + points
        candidates = range(max(len(before) - 1, 1), len(chain) - 1)
        lo = len(before)
    else:  # a backfill: the pairs from the one after its first stored neighbour change
        before, stored = queries.neighbourhood(conn, meter_id, points[0][:2], points[-1][:2])
        delta.add_pairs(stored, len(before), -1)
        chain = merge(stored, points)
        new = {p[1] for p in points}
        candidates = range(len(before), len(chain) - 1)
        candidates = [k for k in candidates if chain[k][1] in new]
        lo = len(before)
    delta.add_pairs(chain, lo)
    return delta, delta.resets(chain, candidates)


def _resets(conn, meter_id: str, seqs: list[int], fresh: Columns) -> list[Reading]:
    """The readings of `seqs`: new ones from the batch, a stored one from the database."""
    row_of = {seq: i for i, seq in enumerate(fresh.seq)}
    found = [fresh.reading(row_of[s]) for s in seqs if s in row_of]
    stored = [s for s in seqs if s not in row_of]
    if stored:
        rows = conn.execute(f"SELECT {queries.COLUMNS} FROM readings WHERE stream = %s AND seq = ANY(%s)",
                            (meter_id, stored))
        found += [queries.reading_of(row) for row in rows]
    return sorted(found, key=lambda r: (r.ts_ms, r.seq))


def _write_rollups(conn, meter_id: str, delta: FlowDelta) -> None:
    for part, (buckets_table, spans_table) in zip((delta.consumed, delta.exported), queries.ROLLUP_TABLES):
        if part.buckets:
            buckets = sorted(part.buckets.items())
            conn.execute(_ROLLUP_UPSERT.format(buckets=buckets_table),
                         (meter_id, [b for b, _ in buckets], [e[0] for _, e in buckets], [e[1] for _, e in buckets]))
        if part.spans:
            spans = sorted(part.spans.items())
            conn.execute(_SPAN_UPSERT.format(spans=spans_table),
                         (meter_id, [k[0] for k, _ in spans], [k[1] for k, _ in spans],
                          [e[0] for _, e in spans], [e[1] for _, e in spans]))
            conn.execute(f"DELETE FROM {spans_table} WHERE stream = %s AND pairs = 0", (meter_id,))
