"""Tesla Analyzer's central routes on the real server: a node key from the admin, history/save
of periods as Tesla's clientRest sends them, history/load of one variable and of ALL across a
date range, duplicates, bad forms and keys of other nodes."""
from __future__ import annotations

import json
from urllib.parse import urlencode

from tests.conftest import ADMIN

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def node_key(running, node: str) -> str:
    reply = running.admin.post(f"/api/v1/nos/{node}/chave")
    assert reply.status == 201, reply.body
    return reply.json["chave"]


def save(api, node: str, equip: str, when: str, lectura: dict, model: str = "PM710"):
    body = urlencode({"DATA_HORA": when, "LECTURA": json.dumps(lectura), "MODEL": model}).encode()
    return api.post(f"/ws/v2/history/save/{node}/{equip}/", raw=body, headers=FORM)


PERIODS = [
    ("14/10/2026 23:45:00", {"TPF": [230.1, 229.8, 231.0], "PAT": [1200.0], "FRE": [60.01], "CEA": [100.0]}),
    ("15/10/2026 00:00:00", {"TPF": [229.0, 228.5, 230.2], "PAT": [1500.0], "FRE": [59.98], "CEA": [100.3]}),
    ("16/10/2026 10:15:00", {"TPF": [231.5, 230.9, 232.0], "PAT": [900.0], "FRE": [60.0], "CEA": [112.0]}),
]


def test_what_save_stores_load_returns_for_one_variable_and_for_all(servidor_json):
    node = servidor_json.client(node_key(servidor_json, "4"))
    for when, lectura in PERIODS:
        reply = save(node, "4", "1", when, lectura)
        assert reply.status == 201 and reply.body.startswith(b"#Saved:"), reply.body
        assert reply.headers["content-type"].startswith("text/plain")
    # A retried period (the answer was lost) is a duplicate, stored once.
    again = save(node, "4", "1", *PERIODS[1])
    assert again.status == 409 and again.json["erro"]["codigo"] == "conflito"

    meter = servidor_json.admin.get("/api/v1/medidores/4-1").json
    assert meter["nome"] == "PM710 1 (nó 4)"
    readings = servidor_json.admin.get("/api/v1/medidores/4-1/leituras?de=2026-10-14&ate=2026-10-16").json["leituras"]
    assert [r["energia_wh"] for r in readings] == [100_000.0, 100_300.0, 112_000.0]
    assert readings[0]["ts"] == "2026-10-14T23:45:00-03:00" and readings[0]["PAT"] == 1200.0
    assert readings[0]["TPF"] == [230.1, 229.8, 231.0] and readings[0]["potencia_w"] == 1200.0

    one = node.get("/ws/v2/history/load/4/1/TPF1/14-10-2026/15-10-2026/")
    assert one.status == 200
    assert one.json == {"ResultSet": {"Lectures": [
        {"dataHora": "14/10/2026 23:45:00", "variable": "TPF1", "descripcio": "tensão fase-neutro, fase 2",
         "valor": 229.8, "unitats": "V"},
        {"dataHora": "15/10/2026 00:00:00", "variable": "TPF1", "descripcio": "tensão fase-neutro, fase 2",
         "valor": 228.5, "unitats": "V"},
    ]}}
    every = node.get("/ws/v2/history/load/4/1/ALL/14-10-2026/16-10-2026/").json["ResultSet"]["Lectures"]
    assert len(every) == 3 * (3 + 1 + 1 + 1)
    assert {(x["dataHora"], x["variable"], x["valor"]) for x in every} >= {
        ("16/10/2026 10:15:00", "TPF2", 232.0), ("15/10/2026 00:00:00", "FRE", 59.98),
        ("14/10/2026 23:45:00", "CEA", 100.0)}
    per_code = node.get("/ws/v2/history/load/4/1/TPF/16-10-2026/16-10-2026/").json["ResultSet"]["Lectures"]
    assert [x["variable"] for x in per_code] == ["TPF0", "TPF1", "TPF2"]
    # The meter's read key reads too (its owner's screens), and the admin.
    _, read = servidor_json.create_meter("4-2")
    assert servidor_json.client(read).get("/ws/v2/history/load/4/2/ALL/14-10-2026/16-10-2026/").json == \
        {"ResultSet": {"Lectures": []}}
    assert servidor_json.admin.get("/ws/v2/history/load/4/1/FRE/15-10-2026/15-10-2026/").status == 200


def test_without_a_counter_the_energy_continues_from_the_power(servidor_json):
    node = servidor_json.client(node_key(servidor_json, "5"))
    assert save(node, "5", "2", "15/10/2026 10:00:00", {"PAT": [1000.0]}).status == 201
    assert save(node, "5", "2", "15/10/2026 10:15:00", {"PAT": [2000.0]}).status == 201
    readings = servidor_json.admin.get("/api/v1/medidores/5-2/leituras").json["leituras"]
    assert [r["energia_wh"] for r in readings] == [0.0, 500.0] and all(r["estimada"] for r in readings)


def test_bad_forms_are_400_and_keys_are_per_node(servidor_json):
    node = servidor_json.client(node_key(servidor_json, "4"))
    cases = [
        ("2026-10-15 10:00", {"PAT": [1.0]}, "DATA_HORA"),
        ("15/10/2026 10:00:00", {"XYZ": [1.0]}, "código desconhecido"),
        ("15/10/2026 10:00:00", {"PAT": [1.0, 2.0]}, "PAT tem um valor só"),
        ("15/10/2026 10:00:00", {"TPF": ["a"]}, "TPF"),
        ("15/10/2026 10:00:00", {}, "ao menos um código"),
        ("15/10/2099 10:00:00", {"PAT": [1.0]}, "futuro"),
    ]
    for when, lectura, needle in cases:
        reply = save(node, "4", "1", when, lectura)
        assert reply.status == 400 and needle in reply.json["erro"]["mensagem"], (when, lectura, reply.body)
    junk = node.post("/ws/v2/history/save/4/1/", raw=b"LECTURA=%7B", headers=FORM)
    assert junk.status == 400
    json_body = node.post("/ws/v2/history/save/4/1/", {"DATA_HORA": "x"})
    assert json_body.status == 400 and "formulário" in json_body.json["erro"]["mensagem"]
    # Node 4's key writes node 4's meters only; a new key replaces the old one.
    assert save(node, "5", "1", *PERIODS[0]).status == 403
    assert node.get("/ws/v2/history/load/5/1/ALL/14-10-2026/16-10-2026/").status == 403
    node_key(servidor_json, "4")
    assert save(node, "4", "1", *PERIODS[0]).status == 401
    assert servidor_json.client().post("/api/v1/nos/4/chave").status == 401
    assert servidor_json.client(ADMIN).post("/api/v1/nos/n%C3%B3!/chave").status == 404
    # A node key is no meter key.
    assert node.get("/api/v1/medidores").status in (401, 403)
    assert servidor_json.admin.get("/ws/v2/history/load/4/1/ALL/16-10-2026/14-10-2026/").status in (400, 404)
    assert servidor_json.admin.get("/ws/v2/history/load/4/1/ALL/01-01-2020/01-01-2022/").status in (400, 404)
    # Tesla's paths end in "/"; without it, or with "//", nothing answers.
    assert servidor_json.admin.get("/ws/v2/history/load/4/1/ALL/14-10-2026/16-10-2026").status == 404
