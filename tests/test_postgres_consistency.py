"""Two servers (two Apps, each with its own stores and socket) on one PostgreSQL schema answer as
one: tariffs and the bandeira table, sites, 004's meters and silence alerts, whichever server a
change or a meter's readings went through. One clock drives both servers' ingest and
housekeeping, so a silence plays out deterministically."""
from __future__ import annotations

import time
from typing import Iterator

import pytest

import servidor.domain.keys as keys_module
from servidor.store.postgres import open_postgres
from tests import postgres
from tests.conftest import Running, start_server, stop_server
from tests.test_api_reports import feed_hourly, ms
from tests.test_legacy import read_like_004_menu, send_like_004_meter
from tests.test_silence import LIVE_EVERY_S, SILENCE_S, Clock

M = "/api/v1/medidores"
T = "/api/v1/tarifas"


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
def pair(clock: Clock) -> Iterator[tuple[Running, Running]]:
    with postgres.fresh_schema() as url:
        a = start_server(*open_postgres(url), None, clock=clock, housekeeping_s=3600.0)
        b = start_server(*open_postgres(url), None, clock=clock, housekeeping_s=3600.0)
        try:
            yield a, b
        finally:
            stop_server(a)
            stop_server(b)


def plan(tariff_id: str, price: float, start: str = "2026-01-01") -> dict:
    return {"id": tariff_id, "nome": tariff_id, "versoes": [{"vigencia": start, "energia": {"tipo": "unico", "preco": price}}]}


def test_a_tariff_made_and_repriced_through_one_server_bills_the_same_on_the_other(pair, monkeypatch):
    a, b = pair
    assert a.admin.post(T, plan("minha", 0.8)).status == 201
    assert b.admin.get(f"{T}/minha").json["versoes"][0]["energia"]["preco"] == {"kwh": 0.8}
    assert b.admin.post(T, plan("minha", 0.5)).status == 409  # B knows it exists
    write, read = b.create_meter("casa", tarifa="minha")  # B accepts the tariff made through A
    feed_hourly(b.client(write), "casa", ms("2026-09-01T00:00:00-03:00"), 30 * 24, 500.0)
    assert a.admin.put(f"{T}/minha", plan("minha", 2.0)).status == 200
    monkeypatch.setattr(keys_module, "SHARED_RECHECK_S", 0.0)  # instead of waiting the 5 s
    invoices = [s.client(read).get(f"{M}/casa/faturas/2026-09").json for s in (a, b)]
    assert invoices[0]["total"] == invoices[1]["total"]
    assert invoices[1]["total"] > 2.0 * 300  # 360 kWh at 2.0, not at the 0.8 B started with
    assert a.admin.delete(f"{T}/minha").status in (200, 204)
    assert b.admin.get(f"{T}/minha").status == 404
    assert "minha" not in [t["id"] for t in b.admin.get(T).json["tarifas"]]


def test_versions_and_flags_added_through_both_servers_are_all_kept(pair):
    """Each change reads what is stored, not the server's copy (still the old one here, within
    the 5 s a copy is trusted): nothing one server wrote is lost by the other's write."""
    a, b = pair
    assert a.admin.post(T, plan("v", 0.8)).status == 201
    assert b.admin.get(f"{T}/v").status == 200  # B holds a copy with one version
    assert a.admin.post(f"{T}/v/versoes", plan("v", 0.9, "2026-06-01")["versoes"][0]).status == 201
    added = b.admin.post(f"{T}/v/versoes", plan("v", 1.0, "2026-09-01")["versoes"][0])
    assert added.status == 201, added.body
    assert [v["vigencia"] for v in added.json["versoes"]] == ["2026-01-01", "2026-06-01", "2026-09-01"]
    assert a.admin.put("/api/v1/bandeiras/2026-07", {"bandeira": "vermelha_2"}).status == 200
    flags = b.admin.put("/api/v1/bandeiras/2026-08", {"bandeira": "amarela"})
    assert flags.status == 200
    months = flags.json["meses"]
    assert months["2026-07"] == "vermelha_2" and months["2026-08"] == "amarela"


def test_a_site_made_through_one_server_takes_meters_through_the_other(pair, monkeypatch):
    a, b = pair
    assert a.admin.post("/api/v1/sites", {"id": "fazenda", "nome": "Fazenda"}).status == 201
    assert b.admin.get("/api/v1/sites/fazenda").json["nome"] == "Fazenda"
    b.create_meter("bomba", site="fazenda")  # B accepts the site made through A
    monkeypatch.setattr(keys_module, "SHARED_RECHECK_S", 0.0)  # A's list of meters, instead of waiting the 5 s
    assert [m["id"] for m in a.admin.get("/api/v1/sites/fazenda").json["medidores"]] == ["bomba"]
    assert b.admin.put("/api/v1/sites/fazenda", {"nome": "Fazenda Boa Vista"}).status == 200
    assert a.admin.get("/api/v1/sites/fazenda").json["nome"] == "Fazenda Boa Vista"


def test_a_004_meter_posted_to_one_server_is_read_on_the_other(pair):
    a, b = pair
    send_like_004_meter(a.port, "velho", {"consumo_total_kWh": 7})
    assert read_like_004_menu(b.port, "/?id=velho")[1] == {"velho": {"consumo_total_kWh": 7}}
    assert [m["id"] for m in b.admin.get(M).json["legado"]] == ["velho"]
    assert b.client().call("DELETE", "/velho").status == 204
    assert read_like_004_menu(a.port, "/?id=velho")[0].startswith(b"HTTP/1.1 404")


def silences(server: Running, meter: str) -> list[dict]:
    return [x for x in server.admin.get(f"{M}/{meter}/alertas").json["alertas"] if x["tipo"] == "silencio"]


def housekeeping(*servers: Running) -> None:
    for server in servers:
        server.app.housekeeper.run_once()


def test_a_meter_speaking_to_one_server_is_not_silent_on_the_other_and_a_silence_is_one_alert(pair, clock):
    a, b = pair
    agent = b.client(b.create_meter("casa", silencio_s=SILENCE_S)[0])
    assert a.admin.get(f"{M}/casa").status == 200  # A watches it too
    seq = 0

    def speak(server_agent) -> None:
        nonlocal seq
        seq += 1
        # A spool draining a backlog: readings ten minutes old, arriving now.
        assert server_agent.post(f"{M}/casa/leituras", {"seq": seq, "ts": int(clock.now * 1000) - 600_000,
                                                        "energia_wh": seq}).status == 200

    for _ in range(10):  # two and a half minutes of posts through B only; A looks after each
        speak(agent)
        clock.now += LIVE_EVERY_S
        housekeeping(a, b)
    assert silences(a, "casa") == []

    clock.now += SILENCE_S + 1  # it stops
    housekeeping(a, b, a, b)
    [alert] = silences(a, "casa")
    assert silences(b, "casa") == [alert] and alert["reconhecido"] is False
    assert "sem leituras há 1 min" in alert["mensagem"]

    speak(agent)  # B has seen A's alert (its housekeeping ran since): closed at once
    [closed] = silences(a, "casa")
    assert closed["resolvido_em"] is not None

    clock.now += SILENCE_S + 1  # silent again: raised by A alone, then the meter speaks to B
    housekeeping(a)
    assert [x["reconhecido"] for x in silences(b, "casa")] == [False, True]
    speak(agent)
    housekeeping(a)  # A sees the arrival through B and closes its alert
    assert [x["reconhecido"] for x in silences(b, "casa")] == [True, True]
    assert all(x["resolvido_em"] for x in silences(a, "casa"))
