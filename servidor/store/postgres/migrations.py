"""The PostgreSQL schema, as numbered migrations the server applies itself at start-up.

Each migration runs once, in order, inside the transaction that records it in
`schema_migrations`. Several servers starting together take an advisory lock first, so exactly one
applies what is missing. A database migrated by a newer server (a version this one does not know)
is refused, never misread. Never edit a migration that was released: add the next one.
"""
from __future__ import annotations

from datetime import datetime, timezone

import psycopg

from servidor.store.errors import StoreError

# Any constant works; it names "the monitor-energia schema" among the database's advisory locks.
MIGRATION_LOCK = 0x4D_45_4D_49  # "MEMI"
# Monthly partitions of readings cover 2000 (the earliest ts a reading may carry) to this year;
# later stamps (a clock set centuries ahead, up to the 2^53 ms a reading allows) share one partition.
LAST_MONTHLY_YEAR = 2099
FAR_START_MS = int(datetime(LAST_MONTHLY_YEAR + 1, 1, 1, tzinfo=timezone.utc).timestamp()) * 1000
TS_LIMIT_MS = 2**53

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, f"""
CREATE TABLE streams (
    stream text PRIMARY KEY,
    deleted boolean NOT NULL DEFAULT false,
    zone text,
    readings bigint NOT NULL DEFAULT 0,
    max_seq bigint,
    last_ts bigint,
    last_seq bigint,
    last_energy double precision
);
CREATE TABLE readings (
    stream text NOT NULL,
    ts bigint NOT NULL,
    seq bigint NOT NULL,
    energy double precision NOT NULL,
    power double precision,
    flags smallint NOT NULL,
    measurements bytea,
    PRIMARY KEY (stream, ts, seq)
) PARTITION BY RANGE (ts);
CREATE INDEX readings_by_seq ON readings (stream, seq);
CREATE TABLE readings_far PARTITION OF readings FOR VALUES FROM ({FAR_START_MS}) TO ({TS_LIMIT_MS});
CREATE TABLE rollup_buckets (
    stream text NOT NULL,
    bucket bigint NOT NULL,
    wh double precision NOT NULL,
    covered_ms bigint NOT NULL,
    PRIMARY KEY (stream, bucket)
);
CREATE TABLE rollup_spans (
    stream text NOT NULL,
    t1 bigint NOT NULL,
    t2 bigint NOT NULL,
    wh double precision NOT NULL,
    pairs integer NOT NULL,
    PRIMARY KEY (stream, t1, t2)
);
CREATE TABLE documents (
    id bigserial PRIMARY KEY,
    tbl text NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX documents_by_table ON documents (tbl, id);
CREATE INDEX documents_by_content ON documents USING gin (doc jsonb_path_ops);
"""),
    # Counters that move both ways (flows.py): the stream's policy, and the rollups of what a
    # bidirectional counter gave back.
    (2, """
ALTER TABLE streams ADD COLUMN bidirectional boolean NOT NULL DEFAULT false,
                    ADD COLUMN max_power_w double precision;
CREATE TABLE export_buckets (LIKE rollup_buckets INCLUDING ALL);
CREATE TABLE export_spans (LIKE rollup_spans INCLUDING ALL);
"""),
    # When a stream's readings last arrived (the ingesting server's clock, ms): silence alerts
    # are judged by it on every server, whichever one the meter posts to.
    (3, """
ALTER TABLE streams ADD COLUMN arrived_ms bigint;
"""),
    # Pulse meters' blinks (blipserver's points, servidor/store/blinks) and energy-sensors'
    # events, shared by every server instead of files beside one server's documents.
    (4, """
CREATE TABLE blink_streams (
    stream text PRIMARY KEY,
    watermark bigint NOT NULL DEFAULT -1,
    last_stamp bigint,
    last_ms integer,
    points bigint NOT NULL DEFAULT 0,
    dropped bigint NOT NULL DEFAULT 0
);
CREATE TABLE blinks (
    stream text NOT NULL,
    stamp bigint NOT NULL,
    ms integer NOT NULL,
    PRIMARY KEY (stream, stamp)
);
CREATE TABLE blink_hours (
    stream text NOT NULL,
    start_ms bigint NOT NULL,
    events integer NOT NULL,
    sum_ms bigint NOT NULL,
    min_ms integer NOT NULL,
    max_ms integer NOT NULL,
    PRIMARY KEY (stream, start_ms)
);
CREATE TABLE sensor_events (
    id bigserial PRIMARY KEY,
    received_ms bigint NOT NULL,
    features double precision[] NOT NULL,
    line text NOT NULL
);
CREATE TABLE sensor_event_count (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    events bigint NOT NULL
);
INSERT INTO sensor_event_count (events) VALUES (0);
"""),
)
LATEST = MIGRATIONS[-1][0]


class SchemaTooNew(StoreError):
    """The database was migrated by a newer server."""


def migrate(conn: psycopg.Connection) -> int:
    """Apply the missing migrations (one transaction each); the schema version afterwards.
    SchemaTooNew if the database is ahead of this program."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                     "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        current = row[0] or 0
        if current > LATEST:
            raise SchemaTooNew(
                f"o banco foi migrado por uma versão mais nova do servidor (esquema {current}, "
                f"este entende até {LATEST}): atualize o monitor-energia")
        for version, sql in MIGRATIONS:
            if version > current:
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                current = version
    return current
