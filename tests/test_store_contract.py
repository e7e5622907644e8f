"""One contract, every backend: in memory, the embedded store (TinyDB + journal) and PostgreSQL.

Each test speaks only through the storage interfaces (`servidor.store.interface`) or through the
API of a server built on the backend, and asserts what the domain relies on: duplicates by seq,
resets, rollups equal however the readings arrive, deletion forever, atomic document changes,
and keys, commands, alerts and invoices behaving alike on each."""
from __future__ import annotations

import random
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest

from servidor.app import readings_dir
from servidor.store.documents import DocumentStore
from servidor.store.interface import DocumentsBackend, ReadingsBackend
from servidor.store.memory import MemoryReadings
from servidor.store.readings import InvalidMeterId, ReadingStore, StreamDeleted
from shared.models import Reading
from tests import postgres
from tests import test_api_alerts, test_api_invoices, test_api_keys, test_api_sites, test_api_solar_invoices
from tests.conftest import start_server

BACKENDS = ["memoria", "embutido", "postgresql"]
Q = 900_000  # one rollup bucket
T0 = int(datetime(2026, 3, 1, 3, tzinfo=timezone.utc).timestamp()) * 1000  # 00:00 in São Paulo


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[DocumentsBackend, ReadingsBackend]]:
    if request.param == "memoria":
        docs, readings = DocumentStore.in_memory(), MemoryReadings()
        yield docs, readings
    elif request.param == "embutido":
        docs = DocumentStore.open(tmp_path / "db.json")
        readings = ReadingStore.open(readings_dir(tmp_path / "db.json"), durable=False)
        yield docs, readings
    else:
        from servidor.store.postgres import open_postgres

        with postgres.fresh_schema() as url:
            docs, readings = open_postgres(url)
            try:
                yield docs, readings
            finally:
                readings.close()
                docs.close()
        return
    readings.close()
    docs.close()


@pytest.fixture
def store(stores) -> ReadingsBackend:
    return stores[1]


@pytest.fixture
def docs(stores) -> DocumentsBackend:
    return stores[0]


def run(seq0: int, t0: int, n: int, step_ms: int = 60_000, wh: float = 10.0, e0: float = 0.0) -> list[Reading]:
    return [Reading(seq0 + i, t0 + i * step_ms, e0 + i * wh, 100.0) for i in range(n)]


# -- readings -------------------------------------------------------------------------------------

def test_both_stores_implement_the_interfaces(stores):
    docs, readings = stores
    assert isinstance(docs, DocumentsBackend) and isinstance(readings, ReadingsBackend)
    assert docs.health() == (True, None) and readings.health() == (True, None)


def test_a_seq_is_stored_once_whatever_its_timestamp_and_however_often_it_is_sent(store):
    first = store.append("m", run(1, T0, 10))
    assert (first.aceitas, first.duplicadas, first.ultimo_seq) == (10, 0, 10)
    again = store.append("m", run(5, T0 + 3_600_000, 10) + [Reading(20, T0, 1.0), Reading(20, T0 + 1, 2.0)])
    assert (again.aceitas, again.duplicadas, again.ultimo_seq) == (5, 7, 20)
    assert store.count("m") == 15 and store.max_seq("m") == 20
    assert store.append("m", []).aceitas == 0 and store.count("m") == 15
    assert store.count("outro") == 0 and store.max_seq("outro") is None and store.last("outro") is None


def test_last_previous_first_and_ranges_follow_timestamps_not_arrival(store):
    store.append("m", run(10, T0 + 10 * 60_000, 5))
    store.append("m", run(1, T0, 3))  # late arrivals from before
    assert store.last("m").seq == 14 and store.previous("m").seq == 13
    assert store.first_ts("m") == T0
    rows = store.readings("m", T0 + 60_000, T0 + 12 * 60_000)
    assert [r.seq for r, _ in rows] == [2, 3, 10, 11]
    assert [r.seq for r, _ in store.readings("m", limit=2)] == [1, 2]
    assert [r.seq for r in store.after_seq("m", 2, limit=3)] == [3, 10, 11]
    assert store.readings("m", limit=0) == [] and store.after_seq("m", 99) == []


def test_a_counter_that_goes_back_is_a_reset_reported_once_and_never_negative_energy(store):
    store.append("m", run(1, T0, 4, wh=100.0))  # 0, 100, 200, 300
    result = store.append("m", [Reading(5, T0 + 4 * 60_000, 50.0), Reading(6, T0 + 5 * 60_000, 80.0)])
    assert [r.seq for r in result.resets] == [5]
    assert [reset for _, reset in store.readings("m")] == [False, False, False, False, True, False]
    assert store.energy("m", T0, T0 + Q) == pytest.approx((330.0, 5 * 60_000))


def test_a_momentary_zero_backfilled_in_the_middle_is_a_glitch_that_moves_no_energy(store):
    store.append("m", run(1, T0, 31, wh=10.0))
    assert store.energy("m", T0, T0 + 4 * Q)[0] == pytest.approx(300.0)
    result = store.append("m", [Reading(100, T0 + 15 * 60_000 + 30_000, 0.0)])
    assert result.resets == ()  # the reading after it is back at the level before it
    assert store.energy("m", T0, T0 + 4 * Q)[0] == pytest.approx(300.0)
    assert not any(reset for _, reset in store.readings("m"))
    assert store.last("m").seq == 31


def test_a_momentary_zero_at_the_end_is_undone_by_the_next_batch(store):
    store.append("m", [Reading(1, T0, 1000.0), Reading(2, T0 + 60_000, 0.0)])
    result = store.append("m", [Reading(3, T0 + 120_000, 1010.0)])
    assert result.resets == ()
    assert store.energy("m", T0, T0 + Q)[0] == pytest.approx(10.0)
    assert [reset for _, reset in store.readings("m")] == [False, False, False]


def test_a_bidirectional_counter_sends_its_drops_to_the_exported_rollup(store):
    from servidor.store.readings import FlowPolicy

    store.set_flow("m", FlowPolicy(bidirectional=True))
    store.append("m", [Reading(1, T0, 1000.0), Reading(2, T0 + 60_000, 1100.0), Reading(3, T0 + 120_000, 1040.0)])
    assert store.energy("m", T0, T0 + Q)[0] == pytest.approx(100.0)
    assert store.energy("m", T0, T0 + Q, exported=True)[0] == pytest.approx(60.0)
    store.set_flow("m", FlowPolicy())  # monotonic again: the drop is a reset, no export
    assert store.energy("m", T0, T0 + Q, exported=True)[0] == 0.0
    assert store.energy("m", T0, T0 + Q)[0] == pytest.approx(100.0)


def test_rollups_equal_the_reference_however_the_readings_arrive(store):
    rng = random.Random(15)
    readings, energy = [], 0.0
    t = T0
    for seq in range(400):
        t += rng.choice([30_000, 60_000, 300_000, 2 * 3_600_000])
        energy = energy + rng.uniform(0, 50) if rng.random() > 0.02 else rng.uniform(0, 10)
        readings.append(Reading(seq, t, round(energy, 3), 1.0))
    reference = MemoryReadings()
    reference.append("m", readings)
    shuffled = list(readings)
    rng.shuffle(shuffled)
    for i in range(0, len(shuffled), 37):
        store.append("m", shuffled[i:i + 37])
    assert [r for r, _ in store.readings("m", limit=1000)] == [r for r, _ in reference.readings("m", limit=1000)]
    assert [x for _, x in store.readings("m", limit=1000)] == [x for _, x in reference.readings("m", limit=1000)]
    end = (t // Q + 1) * Q
    for lo in range(T0 // Q * Q, end, 24 * Q):
        got, want = store.energy("m", lo, lo + 24 * Q), reference.energy("m", lo, lo + 24 * Q)
        assert got[0] == pytest.approx(want[0], abs=1e-6) and got[1] == want[1]


def test_a_meter_silent_for_weeks_spreads_its_energy_over_the_days_it_was_away(store):
    store.append("m", [Reading(1, T0, 0.0), Reading(2, T0 + 10 * 86_400_000, 1000.0)])
    assert store.energy("m", T0, T0 + 86_400_000) == pytest.approx((100.0, 0))
    store.set_timezone("m", ZoneInfo("America/Sao_Paulo"))
    days = store.day_energy("m", date(2026, 3, 1), date(2026, 3, 3))
    assert list(days) == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    assert all(wh == pytest.approx(100.0) for wh, _ in days.values())


def test_local_days_follow_the_meters_time_zone(store):
    store.set_timezone("m", ZoneInfo("America/Sao_Paulo"))
    store.append("m", run(1, T0 - 2 * 3_600_000, 5, step_ms=3_600_000, wh=1000.0))  # 22:00 to 02:00 local
    days = store.day_energy("m", date(2026, 2, 28), date(2026, 3, 1))
    assert days[date(2026, 2, 28)] == pytest.approx((2000.0, 2 * 3_600_000))
    assert days[date(2026, 3, 1)] == pytest.approx((2000.0, 2 * 3_600_000))
    assert store.day_energy("m", date(2026, 3, 2), date(2026, 3, 1)) == {}
    with pytest.raises(ValueError):
        store.energy("m", T0 + 1, T0 + Q)


def test_a_deleted_stream_is_dead_forever(store):
    store.append("m", run(1, T0, 5))
    store.delete_meter("m")
    assert store.is_deleted("m") and not store.is_deleted("vivo")
    assert store.count("m") == 0 and store.last("m") is None and store.readings("m") == []
    assert store.energy("m", T0, T0 + Q) == (0.0, 0)
    with pytest.raises(StreamDeleted):
        store.append("m", run(6, T0 + Q, 1))
    with pytest.raises(InvalidMeterId):
        store.append("", run(1, T0, 1))


def test_the_last_arrival_is_that_of_the_last_append_that_stored_something(store):
    assert store.arrivals() == {}
    store.append("m", run(1, T0, 3), arrived_ms=1_000)
    store.append("m", run(1, T0, 3), arrived_ms=2_000)  # all duplicates: the meter said nothing new
    store.append("m", run(4, T0 + Q, 1))  # an import: no arrival
    store.append("n", run(1, T0, 1), arrived_ms=3_000)
    assert store.arrivals() == {"m": 1_000, "n": 3_000}
    store.append("m", run(5, T0 - Q, 1), arrived_ms=4_000)  # an old reading from the spool: it arrived now
    assert store.arrivals() == {"m": 4_000, "n": 3_000}
    store.delete_meter("m")
    assert store.arrivals() == {"n": 3_000}


def test_listeners_hear_each_append_that_stored_something(store):
    heard: list[tuple[str, int]] = []
    store.add_listener(lambda stream, seq: heard.append((stream, seq)))
    store.append("m", run(1, T0, 3))
    store.append("m", run(1, T0, 3))  # all duplicates: nothing new to hear
    assert heard == [("m", 3)]
    stats = store.stats()
    assert stats["leituras"] == 3 and stats["medidores"] == 1


def test_measurements_and_estimated_flags_come_back_as_sent(store):
    reading = Reading.from_json({"seq": 1, "ts": T0, "energia_wh": 5, "potencia_w": -3.5, "estimada": True,
                                 "FRE": 60.01, "TPF": 0.98})
    assert reading.estimada and reading.medidas
    store.append("m", [reading, Reading(2, T0 + 1000, 6.0)])
    assert store.last("m") == Reading(2, T0 + 1000, 6.0) and store.previous("m") == reading


def test_a_whole_stream_reads_page_by_page_in_time_order_and_deleted_keys_are_listed(store):
    store.append("m", run(10, T0 + 60_000, 3) + [Reading(1, T0 + 60_000, 5.0), Reading(2, T0, 1.0)])
    whole = [(r.ts_ms, r.seq) for r in store.after_key("m", None, 1000)]
    assert whole == [(T0, 2), (T0 + 60_000, 1), (T0 + 60_000, 10), (T0 + 120_000, 11), (T0 + 180_000, 12)]
    paged, key = [], None
    while batch := store.after_key("m", key, 2):  # a tie on ts split across two pages
        paged += [(r.ts_ms, r.seq) for r in batch]
        key = paged[-1]
    assert paged == whole
    assert store.after_key("m", (T0 + 60_000, 1), 1)[0].seq == 10
    store.append("x", run(1, T0, 1))
    store.delete_meter("x")
    assert store.meters() == ["m"] and store.deleted_streams() == ["x"]
    assert store.after_key("x") == [] and store.after_key("nenhum") == []


# -- documents ------------------------------------------------------------------------------------

def test_documents_are_upserted_found_and_deleted_by_key(docs):
    docs.upsert("medidores", "id", {"id": "a", "nome": "A", "n": 1})
    docs.upsert("medidores", "id", {"id": "b", "nome": "B", "n": 2})
    docs.upsert("medidores", "id", {"id": "a", "nome": "A2", "n": 3})
    assert sorted(d["nome"] for d in docs.all("medidores")) == ["A2", "B"]
    assert docs.get("medidores", "n", 2) == {"id": "b", "nome": "B", "n": 2}
    assert docs.get("medidores", "id", "z") is None and docs.all("vazia") == []
    assert docs.delete("medidores", "id", "a") == 1 and docs.delete("medidores", "id", "a") == 0
    assert [d["id"] for d in docs.all("medidores")] == ["b"]


def test_documents_name_their_tables(docs):
    docs.upsert("medidores", "id", {"id": "a"})
    docs.atomic(lambda tables: tables.insert("faturas", {"chave": "a/2026-10"}))
    assert {"medidores", "faturas"} <= set(docs.table_names())
    assert docs.table_names() == sorted(docs.table_names())


def test_an_atomic_change_is_stored_whole_or_not_at_all(docs):
    def change(tables) -> str:
        tables.insert("medidores", {"id": "m", "medidor": None})
        tables.insert("chaves", {"hash": "h1", "medidor": "m"})
        tables.upsert("chaves", "hash", {"hash": "h1", "medidor": "m", "papel": "escrita"})
        assert tables.find("chaves", "hash", "h1")["papel"] == "escrita"
        assert tables.find("medidores", "medidor", None)["id"] == "m"
        return "feito"

    assert docs.atomic(change) == "feito"

    def broken(tables) -> None:
        tables.remove("medidores", "id", "m")
        tables.insert("chaves", {"hash": "h2"})
        raise RuntimeError("no meio")

    with pytest.raises(RuntimeError):
        docs.atomic(broken)
    assert [d["id"] for d in docs.all("medidores")] == ["m"] and len(docs.all("chaves")) == 1
    docs.atomic(lambda tables: tables.remove_table("chaves"))
    assert docs.all("chaves") == [] and len(docs.all("medidores")) == 1


def test_documents_taken_by_key_go_to_one_caller_and_the_rest_stay(docs):
    for n, meter in enumerate(["a", "b", "a"]):
        docs.atomic(lambda tables, n=n, meter=meter: tables.insert("comandos", {"id": n, "medidor": meter}))
    assert [d["id"] for d in docs.matching("comandos", "medidor", "a")] == [0, 2]
    assert [d["id"] for d in docs.pop("comandos", "medidor", "a")] == [0, 2]
    assert docs.pop("comandos", "medidor", "a") == [] and docs.matching("comandos", "medidor", "a") == []
    assert [d["id"] for d in docs.all("comandos")] == [1]


# -- the domain over each backend, through the API -----------------------------------------------

SCENARIOS = [
    test_api_keys.test_rotating_both_keys_revokes_the_old_ones_at_once,
    test_api_keys.test_deleting_a_meter_after_a_rotation_removes_every_key,
    test_api_alerts.test_commands_change_the_meter_and_reach_the_agent_once,
    test_api_alerts.test_passing_the_monthly_limit_raises_one_alert_that_can_be_acknowledged,
    test_api_alerts.test_live_poll_answers_as_soon_as_a_reading_arrives,
    test_api_invoices.test_a_month_at_the_default_price_is_one_energy_line_of_kwh_times_price,
    test_api_invoices.test_late_data_a_tariff_change_and_a_flag_change_each_issue_a_new_version,
    test_api_sites.test_a_two_counter_meter_reports_import_and_export,
    test_api_sites.test_a_producer_never_gets_the_limit_alert_nor_a_bill,
    test_api_solar_invoices.test_the_projected_invoice_of_a_meter_that_injects_counts_its_compensation,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.removeprefix("test_")[:60])
def test_keys_commands_alerts_and_invoices_behave_alike(stores, scenario):
    running = start_server(*stores, None)
    try:
        scenario(running)
    finally:
        running.admin.close()
        running.server.shutdown()
        running.app.services.live.stop()
        running.app.housekeeper.stop()
