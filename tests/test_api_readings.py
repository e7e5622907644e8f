"""Ingest and raw history over a real socket: batches, duplicates, rejections, resets, paging."""
from __future__ import annotations

import json
import time

import pytest

M = "/api/v1/medidores"
# 2026-10-05T00:00:00-03:00, a Monday in America/Sao_Paulo (no DST since 2019).
T0 = 1_791_169_200_000
MIN = 60_000


@pytest.fixture
def meter(servidor):
    write, read = servidor.create_meter("m1")
    return servidor, servidor.client(write), servidor.client(read)


def test_one_reading_is_acknowledged_with_its_seq(meter):
    _, agent, _ = meter
    reply = agent.post(f"{M}/m1/leituras", {"seq": 7, "ts": "2026-10-05T10:00:00-03:00", "energia_wh": 1000.5, "potencia_w": 420, "FRE": 60.0})
    assert reply.status == 200
    assert reply.json == {"aceitas": 1, "duplicadas": 0, "ultimo_seq": 7, "comandos": []}


def test_every_ingest_answer_is_the_servers_one_compact_json(meter):
    # The common answer is written by hand (servidor/api/readings.py): the bytes must be what
    # the server's JSON encoding gives, for a new reading, a repeat and an empty batch alike.
    _, agent, _ = meter
    for body in ({"seq": 2**63 - 1, "ts": T0, "energia_wh": 1.0}, {"seq": 2**63 - 1, "ts": T0, "energia_wh": 1.0},
                 {"leituras": []}):
        reply = agent.post(f"{M}/m1/leituras", body)
        assert reply.status == 200
        assert reply.body == json.dumps(reply.json, ensure_ascii=False, separators=(",", ":")).encode()
    assert reply.json == {"aceitas": 0, "duplicadas": 0, "ultimo_seq": 2**63 - 1, "comandos": []}


def test_a_batch_with_a_repeated_seq_stores_it_once(meter):
    servidor, agent, owner = meter
    batch = [{"seq": i, "ts": T0 + i * MIN, "energia_wh": 100.0 * i} for i in range(1, 11)]
    first = agent.post(f"{M}/m1/leituras", {"leituras": batch})
    assert first.json["aceitas"] == 10 and first.json["duplicadas"] == 0 and first.json["ultimo_seq"] == 10
    retry = agent.post(f"{M}/m1/leituras", {"leituras": batch[5:] + [{"seq": 11, "ts": T0 + 11 * MIN, "energia_wh": 1100}]})
    assert retry.json["aceitas"] == 1 and retry.json["duplicadas"] == 5 and retry.json["ultimo_seq"] == 11
    stored = owner.get(f"{M}/m1/leituras?limite=100").json["leituras"]
    assert [r["seq"] for r in stored] == list(range(1, 12))


def test_a_bad_reading_is_rejected_with_its_reason_and_the_good_ones_kept(meter):
    _, agent, owner = meter
    batch = [
        {"seq": 1, "ts": T0, "energia_wh": 10},
        {"seq": 2, "ts": "2026-10-05T10:00:00", "energia_wh": 20},  # no offset
        {"seq": 3, "ts": T0 + 2 * MIN, "energia_wh": -5},
        {"seq": 4, "ts": T0 + 3 * MIN, "energia_wh": 30, "XYZ": 1},
    ]
    reply = agent.post(f"{M}/m1/leituras", {"leituras": batch})
    assert reply.status == 200
    assert reply.json["aceitas"] == 1
    reasons = {r["seq"]: r["motivo"] for r in reply.json["rejeitadas"]}
    assert "fuso" in reasons[2] and "energia_wh" in reasons[3] and "XYZ" in reasons[4]
    assert [r["seq"] for r in owner.get(f"{M}/m1/leituras").json["leituras"]] == [1]


def test_a_single_invalid_reading_is_422_with_the_reason(meter):
    _, agent, _ = meter
    reply = agent.post(f"{M}/m1/leituras", {"seq": 1, "ts": time.time() * 1000 + 3_600_000, "energia_wh": 1})
    assert reply.status == 422
    assert "futuro" in reply.json["erro"]["mensagem"]
    missing = agent.post(f"{M}/m1/leituras", {"seq": 1, "ts": T0})
    assert missing.status == 422 and "energia_wh" in missing.json["erro"]["mensagem"]


def test_more_than_1000_readings_in_one_request_is_refused(meter):
    _, agent, _ = meter
    batch = [{"seq": i, "ts": T0 + i * 1000, "energia_wh": i} for i in range(1001)]
    reply = agent.post(f"{M}/m1/leituras", {"leituras": batch})
    assert reply.status == 422
    assert reply.json["erro"]["codigo"] == "lote_grande_demais"


def test_a_counter_that_goes_back_is_flagged_and_consumption_never_negative(meter):
    servidor, agent, owner = meter
    values = [1000, 1500, 2000, 50, 250]  # reset between 2000 and 50
    agent.post(f"{M}/m1/leituras", {"leituras": [{"seq": i, "ts": T0 + i * 10 * MIN, "energia_wh": v} for i, v in enumerate(values)]})
    readings = owner.get(f"{M}/m1/leituras").json["leituras"]
    assert [r.get("reinicio", False) for r in readings] == [False, False, False, True, False]
    consumo = owner.get(f"{M}/m1/consumo?intervalo=dia&de=2026-10-05&ate=2026-10-05").json
    # 500 + 500 before the reset, 0 across it, 200 after: 1.2 kWh.
    assert consumo["consumo"][0]["kwh"] == pytest.approx(1.2)
    alerts = owner.get(f"{M}/m1/alertas").json["alertas"]
    assert any(a["tipo"] == "reinicio_contador" for a in alerts)


def test_a_late_reading_is_accepted_in_time_order(meter):
    _, agent, owner = meter
    agent.post(f"{M}/m1/leituras", {"leituras": [{"seq": 1, "ts": T0, "energia_wh": 0}, {"seq": 3, "ts": T0 + 20 * MIN, "energia_wh": 400}]})
    assert agent.post(f"{M}/m1/leituras", {"seq": 2, "ts": T0 + 10 * MIN, "energia_wh": 100}).json["aceitas"] == 1
    readings = owner.get(f"{M}/m1/leituras").json["leituras"]
    assert [r["seq"] for r in readings] == [1, 2, 3]


def test_raw_readings_are_paged_with_a_link_to_the_next_page(meter):
    _, agent, owner = meter
    agent.post(f"{M}/m1/leituras", {"leituras": [{"seq": i, "ts": T0 + i * MIN, "energia_wh": i} for i in range(25)]})
    seen = []
    path = f"{M}/m1/leituras?limite=10"
    while path:
        page = owner.get(path).json
        seen += [r["seq"] for r in page["leituras"]]
        path = page.get("proxima_pagina")
    assert seen == list(range(25))


def test_more_readings_than_a_page_sharing_one_timestamp_page_through_without_looping(meter):
    _, agent, owner = meter
    # 2,500 readings at one instant (a meter whose clock stuck), between two ordinary ones.
    stuck = [{"seq": i, "ts": T0 + MIN, "energia_wh": i} for i in range(1, 2501)]
    agent.post(f"{M}/m1/leituras", {"seq": 0, "ts": T0, "energia_wh": 0})
    for start in range(0, 2500, 1000):
        agent.post(f"{M}/m1/leituras", {"leituras": stuck[start:start + 1000]})
    agent.post(f"{M}/m1/leituras", {"seq": 2501, "ts": T0 + 2 * MIN, "energia_wh": 2501})
    seen: list[int] = []
    pages = 0
    path = f"{M}/m1/leituras?limite=1000&ate={T0 + 10 * MIN}"
    while path and pages < 10:  # 3 pages; a cursor that loops would go on forever
        page = owner.get(path).json
        seen += [r["seq"] for r in page["leituras"]]
        path = page.get("proxima_pagina")
        pages += 1
    assert pages == 3
    assert seen == list(range(2502))


def test_readings_window_in_local_dates(meter):
    _, agent, owner = meter
    agent.post(f"{M}/m1/leituras", {"leituras": [{"seq": i, "ts": T0 + i * 6 * 60 * MIN, "energia_wh": i} for i in range(8)]})
    day = owner.get(f"{M}/m1/leituras?de=2026-10-05&ate=2026-10-05").json["leituras"]
    assert [r["seq"] for r in day] == [0, 1, 2, 3]
    assert day[0]["ts"] == "2026-10-05T00:00:00-03:00"


def test_absurd_counters_and_powers_are_rejected_not_stored(meter):
    servidor, agent, owner = meter
    reply = agent.post(f"{M}/m1/leituras", {"leituras": [
        {"seq": 1, "ts": T0, "energia_wh": 0}, {"seq": 2, "ts": T0 + MIN, "energia_wh": 1e30},
        {"seq": 3, "ts": T0 + 2 * MIN, "energia_wh": 5, "potencia_w": 1e12}]})
    assert reply.status == 200 and reply.json["aceitas"] == 1
    assert {r["seq"] for r in reply.json["rejeitadas"]} == {2, 3}
    assert servidor.admin.get(f"{M}/m1").status == 200
