"""blipserver's routes on the server: each one against stored blinks with answers worked out by
hand, its headers and OPTIONS, bad arguments, read access, blip ids, and the long poll."""
from __future__ import annotations

import http.client
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from servidor.app import readings_dir
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from tests.conftest import Running, start_server, stop_server

T = 1_764_460_800_000  # 2025-11-30T00:00:00Z
HOUR = 3_600_000
NOW = T + 2 * HOUR     # the server's clock in these tests
M = "/api/v1/medidores"
P1, P2, P3 = [T + 1000, 3600], [T + 4600, 3600], [T + 7600, 3000]
P4, P5 = [T + HOUR + 1800, 1800], [T + HOUR + 3000, 1200]
JS = "text/javascript; charset=UTF-8"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    db = tmp_path / "db.json"
    r = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db, clock=lambda: NOW / 1000)
    yield r
    stop_server(r)


def send(running: Running, meter: str, key: str, seq: int, pulses: list[list[int]]) -> Any:
    reading = {"seq": seq, "ts": T + seq * 10_000, "energia_wh": float(seq), "pulsos": pulses}
    reply = running.client(key).post(f"{M}/{meter}/leituras", reading)
    assert reply.status == 200, reply.body
    return reply.json


def raw_get(port: int, path: str, method: str = "GET", timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.fixture
def pulso(running: Running) -> Running:
    """A public 1000 imp/kWh meter with five blinks in two UTC hours; it gets id_blip 1."""
    write, _ = running.create_meter("pulso", publico=True)
    send(running, "pulso", write, 1, [P1, P2])
    send(running, "pulso", write, 2, [P3, P4, P5])
    return running


def blip(running: Running, path: str) -> Any:
    reply = running.client().get(path)
    assert reply.status == 200, (path, reply.body)
    assert reply.headers["content-type"] == JS
    return reply.json


def test_every_route_answers_what_blipserver_would(pulso: Running):
    assert pulso.admin.get(f"{M}/pulso").json["id_blip"] == 1
    assert blip(pulso, "/last/1") == P5
    assert blip(pulso, f"/last/1/{HOUR}") == [P4, P5]
    assert blip(pulso, f"/since/1/{T + 4600}") == [P2, P3, P4, P5]
    assert blip(pulso, f"/since/1/{T + 4601}") == [P3, P4, P5]
    assert blip(pulso, f"/aggregate/1/{T}/5000/2") == [[0, 2], [5000, 1]]
    assert blip(pulso, f"/aggregate/1/{T}/{HOUR}/3") == [[0, 3], [HOUR, 2]]
    assert blip(pulso, f"/aggregate/1/{T + 2000}/1000/3") == [[2000, 1]]  # offset from `since`, empty omitted
    # Hour T: 3 blinks over 10 200 ms → 3600·1000·1000·3 / (1000 · 10 200) = 1058.824 W.
    assert blip(pulso, f"/hourly/1/{T}/{T + 2 * HOUR}") == [[T, 3, 1058.824, 3000, 3600], [T + HOUR, 2, 2400, 1200, 1800]]
    assert blip(pulso, f"/hourly/1/{T + 5}/{T + HOUR}") == [[T, 3, 1058.824, 3000, 3600]]
    assert blip(pulso, f"/aggregate_hourly/1/{T}/{2 * HOUR}/1") == [[0, 5]]
    assert blip(pulso, f"/usage/1/{HOUR}") == [2]
    assert blip(pulso, f"/usage/1/{3 * HOUR}") == [5]


def test_power_and_energy_follow_the_meters_blinks_per_kwh(running: Running):
    write, _ = running.create_meter("seiscentos", publico=True, pulsos_por_kwh=600)
    send(running, "seiscentos", write, 1, [P1, P2, P3])
    # 600 imp/kWh: a blink is 1.667 Wh; 3 blinks over 10 200 ms → 3.6e9·3 / (600·10 200) = 1764.706 W.
    assert blip(running, f"/hourly/1/{T}/{NOW}") == [[T, 3, 1764.706, 3000, 3600]]
    assert blip(running, f"/aggregate_hourly/1/{T}/{HOUR}/2") == [[0, 5]]


def test_headers_cors_and_options(pulso: Running):
    status, headers, body = raw_get(pulso.port, "/last/1")
    assert status == 200 and body == f"[{P5[0]},{P5[1]}]".encode()
    assert headers["content-type"] == JS
    assert headers["cache-control"] == "max-age=0, must-revalidate"
    assert headers["access-control-allow-origin"] == "*"
    for path in ("/blip/1", "/last/1", "/last/1/5", "/since/1/5", "/aggregate/1/1/2/3",
                 "/aggregate_hourly/1/1/2/3", "/hourly/1/1/2", "/usage/1/5", "/blip.html"):
        status, headers, _ = raw_get(pulso.port, path, "OPTIONS")
        assert status == 200, path
        assert "GET" in headers["allow"]


@pytest.mark.parametrize("path", [
    "/since/1/1234567890123456",        # 16 digits
    f"/aggregate/1/{T}/1000/1001",      # more than 1000 buckets
    f"/aggregate_hourly/1/{T}/1000/1001",
    f"/aggregate/1/{T}/0/10",           # empty buckets
    "/since/1/abc", "/since/1/-5", "/last/1/1e5", "/hourly/1/1/9999999999999999",
    "/usage/x/5", "/last/1234567890123456",
])
def test_bad_arguments_are_400_with_the_reason(pulso: Running, path: str):
    reply = pulso.client().get(path)
    assert reply.status == 400, (path, reply.body)
    assert reply.json["erro"]["codigo"] == "argumento_invalido"


def test_an_unknown_blip_id_is_404(pulso: Running):
    assert pulso.client().get("/last/99").status == 404


def test_a_meter_that_is_not_public_needs_a_key_that_reads_it(running: Running):
    write, read = running.create_meter("casa")
    _, other = running.create_meter("vizinho")
    send(running, "casa", write, 1, [P1])
    assert running.client().get("/last/1").status == 401
    assert running.client(other).get("/last/1").status == 403
    assert running.client().get(f"/last/1?chave={other}").status == 403
    assert blip(running, f"/last/1?chave={read}") == P1
    reply = running.client(read).get("/last/1")
    assert reply.status == 200 and reply.json == P1


def test_blip_ids_are_unique_settable_and_kept_by_a_put_that_omits_them(running: Running):
    w1, _ = running.create_meter("a", publico=True)
    w2, _ = running.create_meter("b", publico=True)
    send(running, "a", w1, 1, [P1])
    send(running, "b", w2, 1, [P2])
    admin = running.admin
    assert [admin.get(f"{M}/{m}").json["id_blip"] for m in "ab"] == [1, 2]
    taken = admin.put(f"{M}/b", {"nome": "b", "id_blip": 1, "publico": True})
    assert taken.status == 409 and "id_blip 1" in taken.json["erro"]["mensagem"]
    assert admin.put(f"{M}/b", {"nome": "b", "id_blip": 4711, "publico": True}).json["id_blip"] == 4711
    assert blip(running, "/last/4711") == P2
    assert admin.put(f"{M}/b", {"nome": "B", "publico": True}).json["id_blip"] == 4711  # omitted: kept
    assert admin.post(M, {"id": "c", "id_blip": 4711}).status == 409
    for bad in (0, -1, 10**15, "1", 1.5, True):
        assert admin.put(f"{M}/b", {"nome": "b", "id_blip": bad}).status == 422, bad


def test_a_retried_batch_stores_its_blinks_once(pulso: Running):
    write = pulso.admin.post(f"{M}/pulso/chaves", {"papeis": ["escrita"]}).json["chave_escrita"]
    again = send(pulso, "pulso", write, 2, [P3, P4, P5])
    assert again["duplicadas"] == 1
    assert blip(pulso, f"/since/1/{T}") == [P1, P2, P3, P4, P5]


def test_bad_pulses_reject_the_reading_with_the_reason(pulso: Running):
    write = pulso.admin.post(f"{M}/pulso/chaves", {"papeis": ["escrita"]}).json["chave_escrita"]
    for bad in ([[T, 0]], [[5, 10]], [[T, 1, 2]], "x", [[T + 0.5, 10]]):
        reading = {"seq": 9, "ts": T, "energia_wh": 9.0, "pulsos": bad}
        reply = pulso.client(write).post(f"{M}/pulso/leituras", reading)
        assert reply.status == 422 and "puls" in reply.json["erro"]["mensagem"], bad
    assert blip(pulso, "/last/1") == P5


def _long_poll(port: int, path: str, out: list) -> None:
    out.append(raw_get(port, path, timeout=20))


def test_the_long_poll_answers_the_next_blink_and_holds_no_thread(pulso: Running):
    hub = pulso.app.services.blinks.hub
    results: list = []
    # More waiting clients than the server has worker threads (8): none of them may hold one.
    polls = [threading.Thread(target=_long_poll, args=(pulso.port, "/blip/1", results)) for _ in range(12)]
    for t in polls:
        t.start()
    assert hub.until_waiting("pulso", 12, 10)
    assert blip(pulso, "/last/1") == P5  # a worker is free to answer
    write = pulso.admin.post(f"{M}/pulso/chaves", {"papeis": ["escrita"]}).json["chave_escrita"]
    fresh = [T + HOUR + 4000, 1000]
    send(pulso, "pulso", write, 3, [fresh])
    for t in polls:
        t.join(10)
    assert len(results) == 12
    for status, headers, body in results:
        assert status == 200 and headers["content-type"] == JS and body == f"[{fresh[0]},{fresh[1]}]".encode()


def test_the_long_poll_ends_cleanly_when_the_service_stops(pulso: Running):
    results: list = []
    poll = threading.Thread(target=_long_poll, args=(pulso.port, "/blip/1", results))
    poll.start()
    hub = pulso.app.services.blinks.hub
    assert hub.until_waiting("pulso", 1, 10)
    hub.stop()
    poll.join(10)
    assert results and results[0][0] == 204


def test_the_live_page_is_served(pulso: Running):
    status, headers, body = raw_get(pulso.port, "/blip.html")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"/blip/" in body and b"/last/" in body


def test_deleting_the_meter_deletes_its_blinks(pulso: Running, tmp_path: Path):
    assert (tmp_path / "db.pulsos" / "pulso").exists()
    assert pulso.admin.delete(f"{M}/pulso").status == 204
    assert not (tmp_path / "db.pulsos" / "pulso").exists()
    assert pulso.client().get("/last/1").status == 404
