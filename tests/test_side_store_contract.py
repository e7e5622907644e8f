"""The blink and event stores, one contract over every backend: in memory, the embedded files
(db.pulsos/, db.eventos/) and PostgreSQL. And, on PostgreSQL, what several servers rely on:
blinks and events posted through one server are read through another, and survive a restart."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator

import pytest

from servidor.store.blinks import HOUR_MS, BlinkStore, Hour
from servidor.store.blinks.codec import hours_of
from servidor.store.events import EventStore
from servidor.store.postgres import open_postgres
from tests import postgres
from tests.conftest import start_server, stop_server

BACKENDS = ["memoria", "embutido", "postgresql"]
T0 = 1_764_460_800_000  # 2025-11-30T00:00:00Z, on an hour boundary
WIDTH = 4
M = "/api/v1/medidores"
LINE = (b"Device: ID=3; Fw=1; Evt=2; Power: Active=1753W; Reactive=279var; Appearent=403VA; "
        b"Line: Current=7.359; Voltage=230.08V; Phase=-43,841rad; Peaks: 7.33;7.29;7.37;7.01")


@pytest.fixture(params=BACKENDS)
def side(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple]:
    if request.param == "memoria":
        blinks, events = BlinkStore.memory(), EventStore(None, WIDTH)
    elif request.param == "embutido":
        blinks, events = BlinkStore.open(tmp_path / "db.pulsos"), EventStore(tmp_path / "db.eventos", WIDTH)
    else:
        with postgres.fresh_schema() as url:
            docs, readings = open_postgres(url, listen=False)
            blinks, events = docs.side_stores(WIDTH)
            try:
                yield blinks, events
            finally:
                for store in (blinks, events, readings, docs):
                    store.close()
        return
    yield blinks, events
    blinks.close()
    events.close()


def points(count: int, start: int = T0, seed: int = 1) -> list[tuple[int, int]]:
    """A meter blinking every ~1.8 s on average, in ascending stamps."""
    rng = random.Random(seed)
    out, stamp = [], start
    for _ in range(count):
        ms = rng.randint(200, 3400)
        stamp += ms
        out.append((stamp, ms))
    return out


def test_blinks_are_stored_once_per_reading_seq_and_in_ascending_stamps(side):
    blinks, _ = side
    p = points(6)
    assert blinks.watermark("m") is None and blinks.last("m") is None and blinks.count("m") == 0
    assert blinks.append("m", [(1, p[:2]), (2, p[2:4])]) == 4
    assert blinks.append("m", [(2, p[2:4]), (1, p[:2])]) == 0          # a retried request
    # A blink at or before the last stored one is dropped (and counted); the rest is kept.
    assert blinks.append("m", [(3, [p[1], p[4]])]) == 1
    assert (blinks.watermark("m"), blinks.last("m"), blinks.count("m")) == (3, p[4], 5)
    assert list(blinks.between("m", T0)) == p[:5]
    stats = blinks.stats()
    assert (stats["pulsos"], stats["pulsos_fora_de_ordem"]) == (5, 1) and stats["pulsos_bytes"] > 0


def test_ranges_buckets_and_hours_agree_with_the_points_themselves(side):
    blinks, _ = side
    p = points(5000)                                      # about 2.5 hours
    for seq, start in enumerate(range(0, len(p), 700), start=1):
        blinks.append("m", [(seq, p[start:start + 700])])
    lo, hi = p[1200][0], p[3300][0]
    assert list(blinks.between("m", lo, hi)) == [x for x in p if lo <= x[0] < hi]
    assert blinks.since("m", lo, 10) == [x for x in p if x[0] >= lo][:10]
    assert blinks.since("m", lo, 0) == []
    for start, width, count in ((T0, HOUR_MS, 4), (T0 + 777, 60_000, 200), (T0 - HOUR_MS, 2 * HOUR_MS, 3)):
        want = [sum(1 for s, _ in p if start + i * width <= s < start + (i + 1) * width) for i in range(count)]
        assert blinks.bucket_counts("m", start, width, count) == want, (start, width)
    assert blinks.hours("m", T0, T0 + 3 * HOUR_MS) == hours_of(p)
    assert blinks.hours("m", T0 + HOUR_MS, T0 + 2 * HOUR_MS) == [h for h in hours_of(p) if h.start_ms == T0 + HOUR_MS]
    assert isinstance(blinks.hours("m", T0, T0 + HOUR_MS)[0], Hour)


def test_a_deleted_stream_has_no_blinks_and_starts_again_from_nothing(side):
    blinks, _ = side
    blinks.append("m", [(5, points(3))])
    blinks.append("outro", [(1, points(2))])
    blinks.delete("m")
    assert (blinks.count("m"), blinks.watermark("m"), blinks.last("m"), list(blinks.between("m", 0))) == (0, None, None, [])
    assert blinks.append("m", [(1, points(2, seed=9))]) == 2           # seq 1 again: a new meter
    assert blinks.count("outro") == 2


def test_events_come_back_in_order_with_their_features_and_text_as_sent(side):
    _, events = side
    strange = {"Device": {"ID": 7}, "nota": "nulo \x00 e \ud800 sozinho"}  # jsonb would refuse these
    assert events.append({"Device": {"ID": 1}}, [1.0, 2.0, 3.0, 4.0], T0) == 1
    assert events.append(strange, [5, 6, 7, 8.5], T0 + 1) == 2
    with pytest.raises(ValueError):
        events.append({}, [1.0], T0)
    assert events.count == 2
    assert events.feature_rows() == [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.5]]
    if isinstance(events, EventStore) and events._path is None:
        return                                            # the memory store keeps features only
    assert events.events() == [{"Device": {"ID": 1}}, strange]


def test_blinks_and_events_posted_to_one_server_are_read_through_another_and_kept(monkeypatch):
    """The embedded store keeps them in files beside db.json; on PostgreSQL they were kept in
    each server's memory and lost at its restart, until they moved into the database."""
    with postgres.fresh_schema() as url:
        a = start_server(*open_postgres(url), None)
        b = start_server(*open_postgres(url), None)
        try:
            write, _ = a.create_meter("pulso", publico=True)
            p = points(5)
            reading = {"seq": 1, "ts": T0 + 60_000, "energia_wh": 1.0, "pulsos": [list(x) for x in p]}
            assert a.client(write).post(f"{M}/pulso/leituras", reading).status == 200
            blip = a.admin.get(f"{M}/pulso").json["id_blip"]
            assert b.client().get(f"/last/{blip}").json == list(p[-1])
            assert b.client().get(f"/since/{blip}/{p[2][0]}").json == [list(x) for x in p[2:]]
            for server in (a, b, a):
                reply = server.client().call("POST", "/log/store", raw=LINE, headers={"Content-Type": "text/plain"})
                assert reply.status == 200, reply.body
            assert b.app.services.events.count == 3
            # Each event is also a reading of the sensor's meter: seqs go on across servers.
            history = b.admin.get(f"{M}/sensor-3/leituras").json
            assert [r["seq"] for r in history["leituras"]] == [0, 1, 2]
        finally:
            stop_server(b)
            stop_server(a)
        c = start_server(*open_postgres(url), None)              # every server restarted
        try:
            assert c.client().get(f"/last/{blip}").json == list(p[-1])
            assert c.app.services.events.count == 3
        finally:
            stop_server(c)


def test_stores_list_their_blink_streams_and_give_events_back_whole_from_any_point(side):
    """What `servidor migrar` reads and writes: every stream, and the events with what they were
    received with, continued after the ones a destination already holds."""
    from servidor.store.events import EventEntry

    blinks, events = side
    blinks.append("b", [(1, points(2))])
    blinks.append("a", [(4, [])])  # a watermark without blinks
    assert blinks.streams() == ["a", "b"] and blinks.watermark("a") == 4
    entries = [EventEntry({"Device": {"ID": n}}, (n, 1.0, 2.0, 3.5), T0 + n) for n in range(5)]
    assert events.append_many(entries[:3]) == 3 and events.append_many([]) == 3
    assert events.append(entries[3].event, entries[3].features, entries[3].received_ms) == 4
    assert events.append_many(entries[4:]) == 5 and events.count == 5
    with pytest.raises(ValueError):
        events.append_many([EventEntry({}, (1.0,), T0)])
    assert events.feature_rows()[4] == [4.0, 1.0, 2.0, 3.5]
    if isinstance(events, EventStore) and events._path is None:
        return                                            # the memory store keeps features only
    assert list(events.entries()) == entries and list(events.entries(3)) == entries[3:]
    assert list(events.entries(5)) == []
