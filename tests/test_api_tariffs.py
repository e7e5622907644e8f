"""Versioned tariffs and the bandeira table through the API, the store's old flat tariffs migrated
on load, and "which tariff is cheaper?" for a meter's real consumption, over a real socket."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from servidor.app import readings_dir
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from tests.conftest import start_server, stop_server
from tests.test_api_reports import HOUR, M, feed_hourly, ms

T = "/api/v1/tarifas"
VERSION = {"vigencia": "2026-01-01", "energia": {"tipo": "unico", "preco": 0.8}}


@pytest.mark.parametrize("body, field, words", [
    ({"id": "x", "nome": "X", "versoes": [{"vigencia": "2026-01-01", "energia": {
        "tipo": "postos", "fora_ponta": 0.5, "ponta": 1.5, "intermediario": 0.9,
        "janelas": [{"posto": "ponta", "inicio": "18:00", "fim": "21:00"},
                    {"posto": "intermediario", "inicio": "20:00", "fim": "22:00"}]}}]},
     "versoes[0].energia.janelas", "sobrep"),
    ({"id": "x", "nome": "X", "versoes": [VERSION, {**VERSION, "vigencia": "2025-06-01"}]},
     "versoes[1].vigencia", "não é posterior"),
    ({"id": "x", "nome": "X", "versoes": [{**VERSION, "tributos": {"icms_pct": 100}}]},
     "versoes[0].tributos.icms_pct", "100"),
    ({"id": "x", "nome": "X", "versoes": [{"vigencia": "2026-01-01", "energia": {"tipo": "faixas", "faixas": [
        {"ate_kwh": 100, "preco": 0.5}, {"ate_kwh": 90, "preco": 0.7}, {"ate_kwh": None, "preco": 0.9}]}}]},
     "versoes[0].energia.faixas", "crescente"),
])
def test_invalid_tariffs_are_422_in_portuguese_with_the_field_path(servidor, body, field, words):
    reply = servidor.admin.post(T, body)
    assert reply.status == 422, reply.body
    error = reply.json["erro"]
    assert error["campo"].startswith(field) and words in error["mensagem"], error


def test_versions_are_added_edited_and_deleted_and_only_the_admin_may(servidor):
    assert servidor.admin.post(T, {"id": "v", "nome": "V", "versoes": [VERSION]}).status == 201
    _, read = servidor.create_meter("leitor")
    assert servidor.client(read).post(f"{T}/v/versoes", {**VERSION, "vigencia": "2026-07-01"}).status == 403
    added = servidor.admin.post(f"{T}/v/versoes", {**VERSION, "vigencia": "2026-07-01", "taxa_fixa_mensal": 5})
    assert added.status == 201 and [v["vigencia"] for v in added.json["versoes"]] == ["2026-01-01", "2026-07-01"]
    before = servidor.admin.post(f"{T}/v/versoes", {**VERSION, "vigencia": "2026-03-01"})
    assert before.status == 422 and "não é posterior" in before.json["erro"]["mensagem"]
    edited = servidor.admin.put(f"{T}/v/versoes/2026-07-01", {**VERSION, "vigencia": "2026-08-01"})
    assert edited.status == 200 and edited.json["versoes"][1]["vigencia"] == "2026-08-01"
    assert servidor.client(read).get(f"{T}/v/versoes/2026-08-01").json["energia"]["preco"] == {"kwh": 0.8}
    assert servidor.admin.delete(f"{T}/v/versoes/2026-08-01").json["versoes"] == servidor.admin.get(f"{T}/v").json["versoes"]
    last = servidor.admin.delete(f"{T}/v/versoes/2026-01-01")
    assert last.status == 409
    assert servidor.admin.get(f"{T}/v/versoes/2030-01-01").status == 404


def test_a_cycle_across_a_price_change_is_billed_pro_rata_in_two_sets_of_lines(servidor):
    plan = {"id": "reaj", "nome": "Reajuste", "versoes": [
        {"vigencia": "2026-01-01", "energia": {"tipo": "unico", "preco": 0.5}},
        {"vigencia": "2026-09-16", "energia": {"tipo": "unico", "preco": 0.8}}]}
    assert servidor.admin.post(T, plan).status == 201
    write, read = servidor.create_meter("pr", tarifa="reaj")
    start = ms("2026-09-01T00:00:00-03:00")
    feed_hourly(servidor.client(write), "pr", start, 30 * 24, 1000.0)  # 720 kWh
    lines = servidor.client(read).get(f"{M}/pr/faturas/2026-09").json["linhas"]
    # 15 of 30 days at each price: 360 kWh × 0,50 + 360 kWh × 0,80.
    assert [(line["quantidade"], line["valor"]) for line in lines] == [(360.0, 180.0), (360.0, 288.0)]
    assert "15/30 dias" in lines[1]["descricao"]


def test_the_bandeira_table_ships_with_its_source_and_is_edited_through_the_api(servidor):
    table = servidor.admin.get("/api/v1/bandeiras").json
    assert table["meses"]["2025-08"] == "vermelha_2"
    assert any("ANEEL" in v["fonte"] and v["por_100kwh"].get("amarela") == 1.885 for v in table["valores"])
    refused = servidor.admin.put("/api/v1/bandeiras/2026-02", {"bandeira": "roxa"})
    assert refused.status == 422 and refused.json["erro"]["campo"] == "meses.2026-02"
    table["meses"]["2026-02"] = "amarela"
    assert servidor.admin.put("/api/v1/bandeiras", table).json["meses"]["2026-02"] == "amarela"


OLD_STORE = {
    "meta": {"1": {"versao_formato": 1}},
    "tarifas": {"1": {"id": "padrao", "nome": "Tarifa padrão", "preco_kwh": 0.5, "taxa_fixa_mensal": 0.0,
                      "impostos_pct": 0.0, "faixas": [], "moeda": "BRL"},
                "2": {"id": "residencial", "nome": "Residencial B1 (faixas)", "preco_kwh": 0.78,
                      "taxa_fixa_mensal": 12.5, "impostos_pct": 25.0, "moeda": "BRL",
                      "faixas": [{"ate_kwh": 100, "preco_kwh": 0.62}, {"ate_kwh": None, "preco_kwh": 0.81}]}},
}


def test_a_store_with_old_flat_tariffs_is_migrated_to_plans_that_bill_the_same(tmp_path: Path):
    db = tmp_path / "db.json"
    db.write_text(json.dumps(OLD_STORE))
    running = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db)
    try:
        plan = running.admin.get(f"{T}/residencial").json
        assert plan["versoes"][0]["tributos"] == {"icms_pct": 25.0, "pis_pct": 0.0, "cofins_pct": 0.0,
                                                  "calculo": "conjunto"}
        assert {t["id"] for t in running.admin.get(T).json["tarifas"]} == {"padrao", "residencial", "convencional",
                                                                           "branca"}
        write, read = running.create_meter("velho", tarifa="residencial")
        feed_hourly(running.client(write), "velho", ms("2026-09-01T00:00:00-03:00"), 25 * 24, 250.0 / 600 * 1000)
        invoice = running.client(read).get(f"{M}/velho/faturas/2026-09").json
        # The old model's bill, by hand: 100 × 0,62 + 150 × 0,81 + 12,50 = 196,00; / (1 − 25 %) = 261,33.
        assert invoice["kwh_medido"] == pytest.approx(250.0)
        assert [line["valor"] for line in invoice["linhas"]] == [62.0, 121.5, 12.5, 65.33]
        assert invoice["total"] == pytest.approx(261.33)
    finally:
        stop_server(running)
    stored = json.loads(db.read_text())
    assert all("versoes" in doc for doc in stored["tarifas"].values())  # written back in the new shape
    assert "bandeiras" in stored


def _evening_household(running, meter_id: str, days: int) -> tuple[str, str]:
    """Hourly readings for `days` up to now: 0,2 kW all day and 3 kW from 18 to 21 h."""
    write, read = running.create_meter(meter_id)
    now = int(time.time() * 1000) // HOUR * HOUR
    rows, energy = [], 0.0
    for n, ts in enumerate(range(now - days * 24 * HOUR, now + 1, HOUR)):
        rows.append({"seq": n, "ts": ts, "energia_wh": round(energy, 1)})
        local_hour = ((ts // HOUR) - 3) % 24  # São Paulo, UTC−3 (no summer time since 2019)
        energy += 3000.0 if 18 <= local_hour < 21 else 200.0
    agent = running.client(write)
    for i in range(0, len(rows), 1000):
        assert agent.post(f"{M}/{meter_id}/leituras", {"leituras": rows[i:i + 1000]}).status == 200
    return write, read


def test_comparison_prices_real_consumption_under_every_tariff_and_names_the_hours(servidor):
    _, read = _evening_household(servidor, "noite", 130)
    reply = servidor.client(read).get(f"{M}/noite/comparar-tarifas?ciclos=3")
    assert reply.status == 200, reply.body
    body = reply.json
    ids = [t["id"] for t in body["tarifas"]]
    assert ids == ["padrao", "branca", "convencional"]  # the meter's own first
    assert body["historico_curto"] is False and body["ciclos_completos"] == 3
    assert body["mais_barata"] == min(body["totais"], key=body["totais"].get)
    # Evening use falls in Branca's ponta: those hours cost more under Branca than under convencional.
    evening = body["horas"][19]
    assert evening["postos"]["branca"] == "ponta" and evening["custos"]["branca"] > evening["custos"]["convencional"]
    assert any("estações" in note for note in body["avisos"])  # 3 cycles, not a year


def test_comparison_says_plainly_when_history_is_too_short(servidor):
    _, read = _evening_household(servidor, "novo", 2)
    body = servidor.client(read).get(f"{M}/novo/comparar-tarifas").json
    assert body["historico_curto"] is True and body["mais_barata"] is None
    assert body["conclusao"].startswith("histórico curto demais")
    # Only the cycles since the first reading are listed (the others are counted in a note).
    assert 1 <= len(body["ciclos"]) <= 2 and not any(c["completo"] for c in body["ciclos"])
    assert any("antes da primeira leitura" in note for note in body["avisos"])


def test_comparison_leaves_the_004_placeholder_out_unless_it_is_named(servidor):
    assert servidor.admin.post(T, {"id": "minha", "nome": "Minha", "versoes": [VERSION]}).status == 201
    _, read = _evening_household(servidor, "outra", 40)
    servidor.admin.put(f"{M}/outra", {"nome": "outra", "tarifa": "minha"})
    owner = servidor.client(read)
    assert [t["id"] for t in owner.get(f"{M}/outra/comparar-tarifas").json["tarifas"]] == ["minha", "branca",
                                                                                          "convencional"]
    named = owner.get(f"{M}/outra/comparar-tarifas?tarifas=padrao,branca").json
    assert [t["id"] for t in named["tarifas"]] == ["minha", "padrao", "branca"]


def test_comparison_refuses_bad_queries_with_the_field(servidor):
    _, read = servidor.create_meter("q")
    owner = servidor.client(read)
    assert owner.get(f"{M}/q/comparar-tarifas?ciclos=0").status == 422
    unknown = owner.get(f"{M}/q/comparar-tarifas?tarifas=nao-existe")
    assert unknown.status == 404
