"""PostgreSQL's monthly partitions of readings: made before an append needs them, each reading in
the partition of its UTC month, a batch spanning months or reaching the far future included."""
from __future__ import annotations

from datetime import datetime, timezone

from servidor.store.postgres import open_postgres
from shared.models import Reading
from tests import postgres


def ms(year: int, month: int, day: int = 1) -> int:
    return int(datetime(year, month, day, 12, tzinfo=timezone.utc).timestamp()) * 1000


def test_a_batch_spanning_months_lands_each_reading_in_its_month_and_the_far_future_apart():
    stamps = [ms(2026, 1, 31), ms(2026, 3, 2), ms(2026, 3, 30), ms(2150, 6)]
    with postgres.fresh_schema() as url:
        docs, store = open_postgres(url, listen=False)
        try:
            result = store.append("m", [Reading(i + 1, ts, float(i), 10.0) for i, ts in enumerate(stamps)])
            assert result.aceitas == 4
            # A second batch in a month already made, and one of the months in between.
            assert store.append("m", [Reading(5, ms(2026, 2, 10), 1.5, 10.0)]).aceitas == 1
            with store._db.transaction() as conn:
                placed = conn.execute("SELECT tableoid::regclass::text, ts FROM readings ORDER BY ts").fetchall()
                months = [row[0] for row in conn.execute(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'readings' "
                    "AND p.relnamespace = current_schema()::regnamespace AND c.relname <> 'readings_far' "
                    "ORDER BY 1")]
        finally:
            store.close()
            docs.close()
    assert [name for name, _ in placed] == ["readings_202601", "readings_202602", "readings_202603",
                                            "readings_202603", "readings_far"]
    # Only the months between the batch's monthly readings: the one in 2150 made none up to 2099.
    assert months == ["readings_202601", "readings_202602", "readings_202603"]
