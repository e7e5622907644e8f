"""Invoices per billing cycle through the API, over a real socket: the engine's lines, cycles by
reading day, versions and their differences, categories without a bill, and nothing written by a read."""
from __future__ import annotations

import json

import pytest

from servidor.app import readings_dir
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from tests.conftest import start_server, stop_server
from tests.test_api_reports import HOUR, M, feed_hourly, ms

FLAT = {"nome": "Padrão", "versoes": [{"vigencia": "1970-01-01", "energia": {"tipo": "unico", "preco": 0.6}}]}


def test_a_month_at_the_default_price_is_one_energy_line_of_kwh_times_price(servidor):
    write, read = servidor.create_meter("mes")
    feed_hourly(servidor.client(write), "mes", ms("2026-09-01T00:00:00-03:00"), 30 * 24, 500.0)
    invoice = servidor.client(read).get(f"{M}/mes/faturas/2026-09").json
    assert invoice["kwh_medido"] == pytest.approx(360.0) and invoice["total"] == pytest.approx(180.0)  # 004's R$ 0,50
    assert [(l["grupo"], l["calculo"]) for l in invoice["linhas"]] == [
        ("energia", "360,000 kWh × R$ 0,50 = R$ 180,00")]
    assert invoice["ciclo"]["primeiro_dia"] == "2026-09-01" and invoice["ciclo"]["ultimo_dia"] == "2026-09-30"
    assert invoice["situacao"] == "fechada" and invoice["versao"] == 1 and invoice["total_formatado"] == "R$ 180,00"


def test_a_reading_day_makes_cycles_named_by_the_month_of_issue_and_a_day_names_its_cycle(servidor):
    write, read = servidor.create_meter("dia", dia_leitura=10)
    feed_hourly(servidor.client(write), "dia", ms("2026-08-01T00:00:00-03:00"), 61 * 24, 100.0)
    owner = servidor.client(read)
    by_name = owner.get(f"{M}/dia/faturas/2026-09").json
    assert (by_name["ciclo"]["primeiro_dia"], by_name["ciclo"]["ultimo_dia"]) == ("2026-08-10", "2026-09-09")
    assert by_name["kwh_medido"] == pytest.approx(31 * 24 * 0.1)
    by_day = owner.get(f"{M}/dia/faturas/2026-08-15").json  # the cycle holding 15/08 is issued in September
    assert by_day["mes"] == "2026-09" and by_day["total"] == by_name["total"]
    assert owner.get(f"{M}/dia").json["dia_leitura"] == 10


def test_taxes_bandeira_and_cip_are_lines_that_add_up_to_the_total(servidor):
    plan = {"id": "b1", "nome": "B1", "versoes": [{
        "vigencia": "2025-01-01", "energia": {"tipo": "unico", "preco": {"tusd": 0.45, "te": 0.35}},
        "tributos": {"icms_pct": 18, "pis_pct": 1.1, "cofins_pct": 5.1}, "cip": {"valor_fixo": 10}}]}
    assert servidor.admin.post("/api/v1/tarifas", plan).status == 201
    write, read = servidor.create_meter("tx", tarifa="b1", ligacao="bifasica")
    feed_hourly(servidor.client(write), "tx", ms("2025-08-01T00:00:00-03:00"), 31 * 24, 250.0)  # 186 kWh in August
    invoice = servidor.client(read).get(f"{M}/tx/faturas/2025-08").json
    groups = [line["grupo"] for line in invoice["linhas"]]
    assert groups == ["energia", "energia", "bandeira", "tributo", "tributo", "tributo", "cip"]
    # August 2025 was vermelha patamar 2 (example table): 186 kWh × R$ 7,877 / 100 kWh.
    assert invoice["linhas"][2]["valor"] == pytest.approx(14.65) and "vermelha patamar 2" in invoice["linhas"][2]["descricao"]
    assert sum(round(line["valor"] * 100) for line in invoice["linhas"]) == round(invoice["total"] * 100)
    assert all(line["calculo"] for line in invoice["linhas"])


def test_late_data_a_tariff_change_and_a_flag_change_each_issue_a_new_version(servidor):
    write, read = servidor.create_meter("re")
    agent, owner = servidor.client(write), servidor.client(read)
    start = ms("2026-09-01T00:00:00-03:00")
    agent.post(f"{M}/re/leituras", {"leituras": [{"seq": 1, "ts": start, "energia_wh": 0},
                                                  {"seq": 3, "ts": start + 20 * 24 * HOUR, "energia_wh": 100_000}]})
    assert owner.get(f"{M}/re/faturas/2026-09").json["versao"] == 1
    agent.post(f"{M}/re/leituras", {"seq": 4, "ts": start + 29 * 24 * HOUR, "energia_wh": 150_000})
    second = owner.get(f"{M}/re/faturas/2026-09").json
    assert second["versao"] == 2 and second["kwh_medido"] == pytest.approx(150.0) and second["reemitida_em"]
    assert servidor.admin.put("/api/v1/tarifas/padrao", FLAT).status == 200
    third = owner.get(f"{M}/re/faturas/2026-09").json
    assert third["versao"] == 3 and third["total"] == pytest.approx(90.0)
    assert servidor.admin.put("/api/v1/bandeiras/2026-09", {"bandeira": "amarela"}).status == 200
    fourth = owner.get(f"{M}/re/faturas/2026-09").json
    assert fourth["versao"] == 4 and fourth["total"] == pytest.approx(92.83)  # + 150 kWh × R$ 1,885/100 kWh
    assert owner.get(f"{M}/re/faturas/2026-09").json["versao"] == 4  # stable when nothing changed
    versions = owner.get(f"{M}/re/faturas/2026-09/versoes").json["versoes"]
    assert [v["versao"] for v in versions] == [4, 3, 2, 1] and versions[-1]["total"] == pytest.approx(50.0)
    assert owner.get(f"{M}/re/faturas/2026-09/versoes/1").json["fatura"]["kwh_medido"] == pytest.approx(100.0)
    diff = owner.get(f"{M}/re/faturas/2026-09/diferencas?de=3&para=4").json
    assert diff["diferenca_total"] == pytest.approx(2.83)
    assert [(l["grupo"], l["de"], l["para"]) for l in diff["linhas"]] == [("bandeira", None, 2.83)]


def test_an_open_cycle_has_no_versions_and_a_future_one_is_404(servidor):
    _, read = servidor.create_meter("fu")
    owner = servidor.client(read)
    assert owner.get(f"{M}/fu/faturas/2999-01").status == 404
    bad = owner.get(f"{M}/fu/faturas/2026-13")
    assert bad.status == 422 and bad.json["erro"]["campo"] == "ciclo"
    current = owner.get(f"{M}/fu/faturas").json["faturas"][0]
    assert current["situacao"] == "aberta" and current["parcial"] is True
    assert owner.get(f"{M}/fu/faturas/{current['mes']}/versoes").json["erro"]["codigo"] == "ciclo_aberto"


@pytest.mark.parametrize("category", ["pvProd", "heatProd", "gridExport", "gridWater", "gridGas"])
def test_producers_exporters_water_and_gas_get_no_energy_bill_and_say_why(servidor, category):
    write, read = servidor.create_meter("sem", categoria=category)
    feed_hourly(servidor.client(write), "sem", ms("2026-09-01T00:00:00-03:00"), 24, 500.0)
    owner = servidor.client(read)
    listing = owner.get(f"{M}/sem/faturas").json
    assert listing["faturas"] == [] and category in listing["sem_fatura"]
    single = owner.get(f"{M}/sem/faturas/2026-09")
    assert single.status == 409 and single.json["erro"]["codigo"] == "sem_fatura"
    if category in ("gridWater", "gridGas"):
        assert "nunca é cobrado por uma tarifa de energia elétrica" in single.json["erro"]["mensagem"]
    assert owner.get(f"{M}/sem").json["resumo"]["fatura_projetada"] is None
    assert owner.get(f"{M}/sem/comparar-tarifas").status == 409


def test_reading_invoices_never_writes_the_database_and_housekeeping_records_them(servidor_json):
    write, read = servidor_json.create_meter("leve")
    agent, owner = servidor_json.client(write), servidor_json.client(read)
    start = ms("2026-08-01T00:00:00-03:00")
    agent.post(f"{M}/leve/leituras", {"leituras": [{"seq": 1, "ts": start, "energia_wh": 0},
                                                    {"seq": 2, "ts": start + 60 * 24 * HOUR, "energia_wh": 60_000}]})
    db = servidor_json.db_path
    before = (db.stat().st_mtime_ns, db.read_bytes())
    listed = owner.get(f"{M}/leve/faturas").json["faturas"]
    closed = [f for f in listed if f["situacao"] == "fechada"]
    assert len(closed) >= 2 and all(f["versao"] == 1 for f in closed)
    assert owner.get(f"{M}/leve/faturas/2026-08").json["versao"] == 1
    assert (db.stat().st_mtime_ns, db.read_bytes()) == before  # reads wrote nothing
    servidor_json.app.housekeeper.run_once()
    recorded = json.loads(db.read_text())["faturas"]
    assert {r["ciclo"] for r in recorded.values()} >= {"2026-08", "2026-09"}
    assert owner.get(f"{M}/leve/faturas/2026-08").json["versao"] == 1  # the same version, now on disk


def test_a_tariff_that_starts_later_lists_only_the_cycles_it_prices_and_the_meter_still_shows(servidor):
    later = {"id": "futura", "nome": "Futura", "versoes": [
        {"vigencia": "2026-09-01", "energia": {"tipo": "unico", "preco": 0.7}}]}
    assert servidor.admin.post("/api/v1/tarifas", later).status == 201
    write, read = servidor.create_meter("tarde", tarifa="futura")
    feed_hourly(servidor.client(write), "tarde", ms("2026-08-01T00:00:00-03:00"), 61 * 24, 100.0)
    owner = servidor.client(read)
    names = [f["mes"] for f in owner.get(f"{M}/tarde/faturas").json["faturas"]]
    assert "2026-09" in names and "2026-08" not in names
    refused = owner.get(f"{M}/tarde/faturas/2026-08")
    assert refused.status == 422 and "não tem versão em vigor" in refused.json["erro"]["mensagem"]
    assert owner.get(f"{M}/tarde").status == 200
    far = {"id": "distante", "nome": "Distante", "versoes": [
        {"vigencia": "2999-01-01", "energia": {"tipo": "unico", "preco": 0.7}}]}
    assert servidor.admin.post("/api/v1/tarifas", far).status == 201
    assert servidor.admin.put(f"{M}/tarde", {"nome": "tarde", "tarifa": "distante"}).status == 200
    meter = owner.get(f"{M}/tarde").json
    assert meter["resumo"]["fatura_projetada"] is None
    assert owner.get(f"{M}/tarde/faturas").json["faturas"] == []


def test_invoices_recorded_before_cycles_stay_as_the_first_versions(tmp_path):
    db = tmp_path / "db.json"

    def start():
        return start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db)

    running = start()
    try:
        write, read = running.create_meter("antigo")
        feed_hourly(running.client(write), "antigo", ms("2026-09-01T00:00:00-03:00"), 30 * 24, 500.0)
    finally:
        stop_server(running)
    stored = json.loads(db.read_text())
    old = {"medidor": "antigo", "mes": "2026-09", "tarifa": "padrao", "kwh": 350.0, "subtotal": 175.0, "impostos": 0.0,
           "total": 175.0, "total_formatado": "R$ 175,00", "cobertura": 1.0, "parcial": False,
           "itens": [{"descricao": "Energia", "quantidade": 350.0, "unidade": "kWh", "preco_unitario": 0.5,
                      "valor": 175.0}]}
    stored["faturas"] = {"1": {"chave": "antigo/2026-09", "medidor": "antigo", "mes": "2026-09", "fatura": old,
                               "versao": 2, "emitida_em": "2026-10-01T03:00:00+00:00",
                               "reemitida_em": "2026-10-05T03:00:00+00:00"}}
    db.write_text(json.dumps(stored))
    running = start()
    try:
        owner = running.client(read)
        current = owner.get(f"{M}/antigo/faturas/2026-09").json
        assert current["versao"] == 3 and current["emitida_em"] == "2026-10-01T03:00:00+00:00"
        versions = owner.get(f"{M}/antigo/faturas/2026-09/versoes").json["versoes"]
        assert [(v["versao"], v["total"]) for v in versions] == [(3, 180.0), (2, 175.0)]
        diff = owner.get(f"{M}/antigo/faturas/2026-09/diferencas?de=2&para=3").json
        assert diff["diferenca_total"] == pytest.approx(5.0)
        assert {(l["grupo"], l["descricao"]) for l in diff["linhas"]} == {("anterior", "Energia"), ("energia", "Consumo")}
    finally:
        stop_server(running)
