"""Two servers (two Apps with their own stores and sockets) on one PostgreSQL schema: keys,
commands, alerts and invoices are the same whichever server a request reaches."""
from __future__ import annotations

import threading
import time
from typing import Iterator

import pytest

import servidor.domain.keys as keys_module
from servidor.store.postgres import open_postgres
from tests import postgres
from tests.conftest import Running, start_server, stop_server
from tests.test_api_reports import feed_hourly, ms

M = "/api/v1/medidores"


@pytest.fixture
def pair() -> Iterator[tuple[Running, Running]]:
    with postgres.fresh_schema() as url:
        docs, readings = open_postgres(url)
        a = start_server(docs, readings, None)
        a.docs, a.url = docs, url  # to read back what the servers stored, and for the command line
        b = start_server(*open_postgres(url), None)
        try:
            yield a, b
        finally:
            stop_server(a)
            stop_server(b)


def now_ms() -> int:
    return int(time.time() * 1000)


def test_a_key_made_or_revoked_through_one_server_is_so_on_the_other(pair, monkeypatch):
    a, b = pair
    write, read = a.create_meter("casa")
    assert b.client(read).get(f"{M}/casa").status == 200
    assert b.client(write).post(f"{M}/casa/leituras", {"seq": 1, "ts": now_ms(), "energia_wh": 1}).status == 200
    assert a.admin.post(f"{M}/casa/chaves").status == 201  # both keys replaced through A
    monkeypatch.setattr(keys_module, "SHARED_RECHECK_S", 0.0)  # instead of waiting the 5 s
    assert b.client(read).get(f"{M}/casa").status == 401
    assert b.client(write).post(f"{M}/casa/leituras", {"seq": 2, "ts": now_ms(), "energia_wh": 2}).status == 401


def test_a_command_queued_on_one_server_reaches_the_agent_once_through_the_other(pair):
    a, b = pair
    write, read = a.create_meter("cmd")
    assert a.client(read).post(f"{M}/cmd/comandos", {"comando": "limite", "valor": 5}).status == 202
    assert [c["comando"] for c in b.client(read).get(f"{M}/cmd").json["comandos_pendentes"]] == ["limite"]
    first = b.client(write).post(f"{M}/cmd/leituras", {"seq": 1, "ts": now_ms(), "energia_wh": 1}).json
    assert [c["comando"] for c in first["comandos"]] == ["limite"]
    for server, seq in ((a, 2), (b, 3)):
        assert server.client(write).post(f"{M}/cmd/leituras", {"seq": seq, "ts": now_ms(), "energia_wh": seq}).json[
            "comandos"] == []


def test_a_limit_crossed_through_both_servers_at_once_raises_one_alert_seen_by_both(pair):
    a, b = pair
    write, read = a.create_meter("lim", limite_alerta_kwh=1)
    t = now_ms() - 60_000
    for server in (a, b):
        server.client(write).post(f"{M}/lim/leituras", {"seq": 1, "ts": t - 2000, "energia_wh": 0})
    posts = [threading.Thread(target=lambda s=s, n=n: s.client(write).post(
        f"{M}/lim/leituras", {"seq": n, "ts": t + n, "energia_wh": 1500 + n})) for n, s in ((2, a), (3, b))]
    for post in posts:
        post.start()
    for post in posts:
        post.join()
    seen = [[x for x in s.client(read).get(f"{M}/lim/alertas").json["alertas"] if x["tipo"] == "limite_excedido"]
            for s in (a, b)]
    assert len(seen[0]) == 1 and seen[0] == seen[1]
    assert b.client(read).post(f"{M}/lim/alertas/{seen[0][0]['id']}/reconhecer").status == 200
    assert a.client(read).get(f"{M}/lim/alertas").json["alertas"][0]["reconhecido"] is True


def test_an_invoice_recorded_by_both_servers_is_issued_once(pair):
    a, b = pair
    write, read = a.create_meter("mes")
    feed_hourly(a.client(write), "mes", ms("2026-09-01T00:00:00-03:00"), 30 * 24, 500.0)
    answers = [s.client(read).get(f"{M}/mes/faturas/2026-09").json for s in (a, b)]
    for server in (a, b):
        server.app.housekeeper.run_once()
    assert [x["versao"] for x in answers] == [1, 1] and answers[0]["total"] == answers[1]["total"]
    records = [r for r in a.docs.all("faturas") if r["medidor"] == "mes" and r["ciclo"] == "2026-09"]
    assert len(records) == 1 and [v["versao"] for v in records[0]["versoes"]] == [1]
    again = [s.client(read).get(f"{M}/mes/faturas/2026-09").json for s in (a, b)]
    assert [x["versao"] for x in again] == [1, 1] and again[0]["emitida_em"] == again[1]["emitida_em"]


def test_servidor_chave_nova_on_the_database_replaces_the_admin_key_of_every_server(pair, monkeypatch, capsys):
    from servidor import keys_cli
    from tests.conftest import ADMIN

    a, b = pair
    assert keys_cli.main(["nova", "--admin", "--banco", a.url]) == 0
    new_key = capsys.readouterr().out.split(": ", 1)[1].split()[0]
    monkeypatch.setattr(keys_module, "SHARED_RECHECK_S", 0.0)
    for server in (a, b):
        assert server.client(new_key).get(M).status == 200
        assert server.client(ADMIN).get(M).status == 401
    assert b.client(new_key).get("/api/v1/saude").json["armazenamento"]["documentos"].startswith("PostgreSQL (")


def test_a_meter_changed_or_deleted_through_one_server_is_so_on_the_other(pair, monkeypatch):
    a, b = pair
    write, read = a.create_meter("casa")
    assert b.client(read).get(f"{M}/casa").json["estado"] == "ativo"
    assert a.client(read).post(f"{M}/casa/comandos", {"comando": "pausar"}).status == 202
    monkeypatch.setattr(keys_module, "SHARED_RECHECK_S", 0.0)  # instead of waiting the 5 s
    assert b.client(read).get(f"{M}/casa").json["estado"] == "pausado"
    assert [m["id"] for m in b.admin.get(M).json["medidores"]] == ["casa"]
    assert a.admin.delete(f"{M}/casa").status in (200, 204)
    assert b.admin.get(f"{M}/casa").status == 404
    assert b.admin.get(M).json["medidores"] == []
    assert b.client(write).post(f"{M}/casa/leituras", {"seq": 1, "ts": now_ms(), "energia_wh": 1}).status in (401, 404)
