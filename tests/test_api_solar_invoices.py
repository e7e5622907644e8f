"""A meter that injects energy, billed over a real socket: compensation, credits carried from
month to month, and late data that re-issues the invoices with the credits carried forward."""
from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

M = "/api/v1/medidores"
TZ = ZoneInfo("America/Sao_Paulo")
SOLAR_TARIFF = {"id": "solar", "nome": "Residencial com geração", "versoes": [{
    "vigencia": "2020-01-01", "energia": {"tipo": "unico", "preco": {"kwh": 0.8}},
    "fio_b": {"preco_kwh": 0.2, "pct_por_ano": {"2025": 45, "2026": 60}}}]}


def ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=TZ).timestamp() * 1000)


def send(api, seq: int, ts: int, imported: float, exported: float) -> None:
    reply = api.post(f"{M}/bidi/leituras", {"seq": seq, "ts": ts, "energia_importada_wh": imported * 1000,
                                           "energia_exportada_wh": exported * 1000})
    assert reply.status == 200, reply.body


@pytest.fixture
def solar(servidor_json):
    api = servidor_json.admin
    assert api.post("/api/v1/tarifas", SOLAR_TARIFF).status == 201
    servidor_json.create_meter("bidi", categoria="gridImport", tarifa="solar", ligacao="bifasica")
    # kWh counters (import, export): September imports 100 and injects 400; October imports 300.
    for seq, (ts, imported, exported) in enumerate([(ms(2026, 9, 1), 1000, 1000), (ms(2026, 9, 20), 1100, 1400),
                                                     (ms(2026, 10, 1), 1100, 1400), (ms(2026, 10, 15), 1400, 1400)]):
        send(api, seq + 10, ts, imported, exported)
    return api


def test_injected_energy_compensates_and_its_surplus_is_carried_as_credits(solar):
    sept = solar.get(f"{M}/bidi/faturas/2026-09").json
    # 100 kWh consumed, 50 is the bifásica minimum: 50 compensated, 350 become credit.
    assert sept["compensacao"]["compensado_no_ciclo_kwh"] == pytest.approx(50)
    assert sept["saldo_creditos_kwh"] == pytest.approx(350)
    lines = {line["descricao"]: line["valor"] for line in sept["linhas"]}
    assert lines["Energia injetada compensada no ciclo (50,000 kWh)"] == -40.0
    assert lines["TUSD Fio B sobre a energia compensada (60 % em 2026)"] == 6.0
    assert sept["total"] == pytest.approx(100 * 0.8 - 40 + 6)
    octo = solar.get(f"{M}/bidi/faturas/2026-10").json
    assert octo["compensacao"]["compensado_de_creditos_kwh"] == pytest.approx(250)
    assert octo["saldo_creditos_kwh"] == pytest.approx(100)
    listed = solar.get(f"{M}/bidi/faturas").json["faturas"]
    assert {f["mes"]: f["saldo_creditos_kwh"] for f in listed}["2026-10"] == pytest.approx(100)


def test_late_readings_reissue_the_invoices_and_carry_the_credits_forward(solar):
    assert solar.get(f"{M}/bidi/faturas/2026-10").json["saldo_creditos_kwh"] == pytest.approx(100)
    assert solar.get(f"{M}/bidi/faturas/2026-09/versoes").status == 200
    # August arrives late: 300 kWh injected, nothing consumed → 300 kWh of credit from August.
    send(solar, 1, ms(2026, 8, 1), 1000, 700)
    octo = solar.get(f"{M}/bidi/faturas/2026-10").json
    # October's 250 come from August first (oldest): 50 of August and September's 350 are left.
    assert octo["compensacao"]["creditos"] == [{"origem": "2026-08", "kwh": 50.0, "valido_ate": "2031-08"},
                                               {"origem": "2026-09", "kwh": 350.0, "valido_ate": "2031-09"}]
    assert octo["saldo_creditos_kwh"] == pytest.approx(400)
    versions = solar.get(f"{M}/bidi/faturas/2026-10/versoes").json["versoes"]
    assert len(versions) == 2  # re-issued when its credits changed


def test_a_meter_that_never_injects_keeps_its_invoice_as_before(servidor_json):
    servidor_json.create_meter("casa")
    api = servidor_json.admin
    for seq, (ts, wh) in enumerate([(ms(2026, 9, 1), 0), (ms(2026, 9, 20), 100_000)]):
        assert api.post(f"{M}/casa/leituras", {"seq": seq, "ts": ts, "energia_wh": wh}).status == 200
    invoice = api.get(f"{M}/casa/faturas/2026-09").json
    assert "compensacao" not in invoice and "saldo_creditos_kwh" not in invoice


def test_the_meters_summary_carries_its_credit_balance(solar):
    summary = solar.get(f"{M}/bidi").json["resumo"]
    assert summary["saldo_creditos_kwh"] == pytest.approx(100)  # nothing since October's 100


def test_a_grid_meter_without_its_own_connection_type_is_billed_by_its_sites(servidor_json):
    api = servidor_json.admin
    assert api.post("/api/v1/sites", {"id": "casa", "ligacao": "trifasica"}).status == 201
    servidor_json.create_meter("rede", categoria="gridNet", site="casa")
    for seq, (ts, wh) in enumerate([(ms(2026, 9, 1), 500_000), (ms(2026, 9, 20), 520_000)]):
        assert api.post(f"{M}/rede/leituras", {"seq": seq, "ts": ts, "energia_wh": wh}).status == 200
    invoice = api.get(f"{M}/rede/faturas/2026-09").json
    assert invoice["kwh_faturado"] == 100.0  # 20 kWh measured, the trifásica minimum is 100
    assert any(line["grupo"] == "disponibilidade" for line in invoice["linhas"])


def test_the_projected_invoice_of_a_meter_that_injects_counts_its_compensation(servidor_json):
    api = servidor_json.admin
    assert api.post("/api/v1/tarifas", SOLAR_TARIFF).status == 201
    servidor_json.create_meter("net", categoria="gridNet", tarifa="solar")  # no minimum
    now = int(time.time() * 1000) // 60_000 * 60_000
    # In the last hour: 2 kWh in, then 3 kWh out (a sunny hour): far less than a consumer's bill.
    for seq, (ts, wh) in enumerate([(now - 3_600_000, 500_000), (now - 1_800_000, 502_000), (now - 60_000, 499_000)]):
        assert api.post(f"{M}/net/leituras", {"seq": seq, "ts": ts, "energia_wh": wh}).status == 200
    projected = api.get(f"{M}/net").json["resumo"]["fatura_projetada"]
    # Every kWh consumed is compensated: only the Fio B (60 % of R$ 0,20) is left to pay.
    assert projected["total"] == pytest.approx(projected["kwh"] * 0.2 * 0.6, abs=0.011)
