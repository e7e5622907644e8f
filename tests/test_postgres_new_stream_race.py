"""Two servers receiving a new meter's first readings at the same moment: the second waits for the
first's transaction and must count the pair between the first's last reading and its own first
(servidor/store/postgres/readings.py: the stream row made meanwhile by another server)."""
from __future__ import annotations

import threading
import time

import servidor.store.postgres.readings as readings_module
from servidor.store.postgres import open_postgres
from shared.models import Reading
from tests import postgres

T0 = 1_788_220_800_000   # a quarter hour's start (2026-09-01 00:00 UTC)


def blocked_making_a_stream(watcher) -> bool:
    """Whether a session waits for a lock in `INSERT INTO streams` (the second server, on the row
    the first one made and has not committed)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                              "AND datname = current_database() AND query LIKE 'INSERT INTO streams%%'").fetchone()
        if row[0]:
            return True
        time.sleep(0.01)
    return False


def test_the_second_server_on_a_new_stream_counts_the_pair_across_both_appends(monkeypatch):
    with postgres.fresh_schema() as url:
        import psycopg

        docs_a, store_a = open_postgres(url, listen=False)
        docs_b, store_b = open_postgres(url, listen=False)
        entered, release = threading.Event(), threading.Event()
        real_insert = readings_module._insert

        def insert(conn, meter_id, cols):
            if threading.current_thread().name == "servidor-a":   # hold A inside its transaction
                entered.set()
                release.wait(30)
            real_insert(conn, meter_id, cols)

        monkeypatch.setattr(readings_module, "_insert", insert)
        results: dict = {}
        a = threading.Thread(name="servidor-a", target=lambda: results.update(a=store_a.append(
            "m", [Reading(1, T0, 0.0), Reading(2, T0 + 10_000, 1.0), Reading(3, T0 + 20_000, 2.0)])))
        b = threading.Thread(name="servidor-b", target=lambda: results.update(b=store_b.append(
            "m", [Reading(4, T0 + 30_000, 3.0), Reading(5, T0 + 40_000, 4.0)])))
        try:
            a.start()
            assert entered.wait(10)            # A made the stream's row and holds it, uncommitted
            b.start()
            with psycopg.connect(postgres.URL, autocommit=True) as watcher:
                assert blocked_making_a_stream(watcher)   # B found no row, and waits to make it
            release.set()
            a.join(10)
            b.join(10)
            assert results["a"].aceitas == 3 and results["b"].aceitas == 2
            # Every pair counted once: 0 -> 4 Wh over the five readings, whichever server stored them.
            for store in (store_a, store_b):
                wh, _ = store.energy("m", T0, T0 + 3_600_000)
                assert wh == 4.0
                assert store.count("m") == 5 and store.max_seq("m") == 5
        finally:
            release.set()
            for store, docs in ((store_a, docs_a), (store_b, docs_b)):
                store.close()
                docs.close()
