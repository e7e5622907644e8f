"""Categories, sites and the analysis feed over a real socket, against hand-computed numbers."""
from __future__ import annotations

import csv
import io
import time

import pytest

M = "/api/v1/medidores"
S = "/api/v1/sites"
# 2026-10-05T00:00:00-03:00, a Monday in America/Sao_Paulo.
T0 = 1_791_169_200_000
HOUR = 3_600_000
DAY_Q = "de=2026-10-05T00:00:00-03:00&ate=2026-10-05T02:59:59-03:00"


def send(servidor, meter_id: str, values, step_ms: int = HOUR, start: int = T0, key: str | None = None) -> dict:
    """Readings of `meter_id` (Wh counters, or (imported, exported) pairs) one step apart."""
    rows = []
    for i, value in enumerate(values):
        row = {"seq": i + 1, "ts": start + i * step_ms}
        if isinstance(value, tuple):
            row["energia_importada_wh"], row["energia_exportada_wh"] = value
        else:
            row["energia_wh"] = value
        rows.append(row)
    reply = servidor.client(key).post(f"{M}/{meter_id}/leituras", {"leituras": rows}) if key else \
        servidor.admin.post(f"{M}/{meter_id}/leituras", {"leituras": rows})
    assert reply.status == 200, reply.body
    return reply.json


@pytest.fixture
def solar_house(servidor_json):
    """Site casa-solar: a net grid meter, a solar meter and a sub-meter, three hours of readings."""
    servidor = servidor_json
    created = servidor.admin.post(S, {"id": "casa-solar", "nome": "Casa solar", "ligacao": "bifasica"})
    assert created.status == 201, created.body
    servidor.create_meter("rede", categoria="gridNet", site="casa-solar")
    servidor.create_meter("solar", categoria="pvProd", site="casa-solar", limite_alerta_kwh=1)
    servidor.create_meter("chuveiro", categoria="gridSub", site="casa-solar")
    send(servidor, "rede", [100_000, 101_000, 100_200, 100_500])   # +1000, −800, +300 Wh
    send(servidor, "solar", [0, 200, 1_500, 1_700])                 # 200, 1300, 200 Wh
    send(servidor, "chuveiro", [0, 1_000, 2_000, 3_000])            # inside the house: never added
    return servidor, created.json["chave_leitura"]


def test_a_sites_energy_per_hour_follows_the_formula(solar_house):
    servidor, _ = solar_house
    reply = servidor.admin.get(f"{S}/casa-solar/consumo?intervalo=hora&{DAY_Q}")
    assert reply.status == 200, reply.body
    rows = reply.json["consumo"]
    # consumo = gridNet (import − export) + pvProd: 1.0 + 0.2, −0.8 + 1.3, 0.3 + 0.2.
    assert [r["consumo_kwh"] for r in rows] == pytest.approx([1.2, 0.5, 0.5])
    assert [r["importado_kwh"] for r in rows] == pytest.approx([1.0, 0.0, 0.3])
    assert [r["exportado_kwh"] for r in rows] == pytest.approx([0.0, 0.8, 0.0])
    assert [r["producao_kwh"] for r in rows] == pytest.approx([0.2, 1.3, 0.2])
    assert [r["autoconsumo_kwh"] for r in rows] == pytest.approx([0.2, 0.5, 0.2])
    assert [r["autossuficiencia_pct"] for r in rows] == pytest.approx([16.67, 100.0, 40.0])
    totals = reply.json["totais"]
    assert totals["consumo_kwh"] == pytest.approx(2.2) and totals["autoconsumo_kwh"] == pytest.approx(0.9)
    assert totals["autossuficiencia_pct"] == pytest.approx(40.91)
    assert {m["id"] for m in reply.json["medidores"]} == {"rede", "solar", "chuveiro"}


def test_each_meter_answers_in_its_categorys_figures(solar_house):
    servidor, _ = solar_house
    rede = servidor.admin.get(f"{M}/rede/consumo?intervalo=dia&{DAY_Q}").json
    [day] = rede["consumo"]
    assert (day["importado_kwh"], day["exportado_kwh"], day["liquido_kwh"]) == pytest.approx((1.3, 0.8, 0.5))
    assert rede["grandeza"] == "consumo" and rede["totais"]["liquido_kwh"] == pytest.approx(0.5)
    # The counter went down (export): no reset, no alert.
    readings = servidor.admin.get(f"{M}/rede/leituras").json["leituras"]
    assert not any(r.get("reinicio") for r in readings)
    assert not servidor.admin.get(f"{M}/rede/alertas").json["alertas"]
    solar = servidor.admin.get(f"{M}/solar/consumo?intervalo=dia&{DAY_Q}").json
    assert solar["grandeza"] == "producao" and solar["consumo"][0]["producao_kwh"] == pytest.approx(1.7)
    assert "importado_kwh" not in solar["consumo"][0]


def test_a_producer_never_gets_the_limit_alert_nor_a_bill(servidor_json):
    servidor = servidor_json
    servidor.create_meter("solar", categoria="pvProd", limite_alerta_kwh=1)
    servidor.create_meter("casa", categoria="gridImport", limite_alerta_kwh=1)
    now = int(time.time() * 1000) // 60_000 * 60_000
    for meter_id in ("solar", "casa"):
        send(servidor, meter_id, [0, 2_000, 4_000], step_ms=60_000, start=now - 3 * 60_000)
    kinds = {m: {a["tipo"] for a in servidor.admin.get(f"{M}/{m}/alertas").json["alertas"]} for m in ("solar", "casa")}
    assert "limite_excedido" in kinds["casa"] and not kinds["solar"] & {"limite_excedido", "projecao_limite"}
    summary = servidor.admin.get(f"{M}/solar").json["resumo"]
    assert summary["limite_uso_pct"] is None and summary["grandeza"] == "producao"
    assert summary["fatura_projetada"] is None
    assert servidor.admin.get(f"{M}/solar/faturas/2026-10").json["erro"]["codigo"] == "sem_fatura"


def test_a_two_counter_meter_reports_import_and_export(servidor_json):
    servidor = servidor_json
    servidor.create_meter("bidi", categoria="gridImport")
    send(servidor, "bidi", [(0, 0), (500, 0), (500, 700), (900, 700)])
    [day] = servidor.admin.get(f"{M}/bidi/consumo?intervalo=dia&{DAY_Q}").json["consumo"]
    assert (day["importado_kwh"], day["exportado_kwh"], day["liquido_kwh"]) == pytest.approx((0.9, 0.7, 0.2))
    summary = servidor.admin.get(f"{M}/bidi").json["resumo"]
    assert "exportado_kwh_mes" in summary
    both = servidor.admin.post(f"{M}/bidi/leituras", {"seq": 9, "ts": T0 + 9 * HOUR, "energia_wh": 1,
                                                      "energia_importada_wh": 1, "energia_exportada_wh": 0})
    assert both.status == 422 and "energia_importada_wh" in both.json["erro"]["mensagem"]
    alone = servidor.admin.post(f"{M}/bidi/leituras", {"seq": 9, "ts": T0 + 9 * HOUR, "energia_importada_wh": 1})
    assert alone.status == 422


def test_water_is_counted_in_cubic_metres_never_kwh(servidor_json):
    servidor = servidor_json
    servidor.create_meter("agua", categoria="gridWater")
    send(servidor, "agua", [10_000, 10_250, 10_400])  # litres
    body = servidor.admin.get(f"{M}/agua/consumo?intervalo=dia&{DAY_Q}").json
    assert body["unidade"] == "m³" and body["totais"] == {"m3": pytest.approx(0.4)}
    assert "kwh" not in body["consumo"][0] and "total_kwh" not in body


def test_site_keys_read_their_site_only(solar_house):
    servidor, site_key = solar_house
    reader = servidor.client(site_key)
    assert [s["id"] for s in reader.get(S).json["sites"]] == ["casa-solar"]
    assert reader.get(f"{S}/casa-solar/consumo").status == 200
    assert reader.get(f"{M}/rede").status == 403
    assert reader.put(f"{S}/casa-solar", {"nome": "x"}).status == 403
    assert servidor.admin.post(S, {"id": "outra"}).status == 201
    assert reader.get(f"{S}/outra").status == 403
    assert servidor.admin.post(S, {"id": "outra"}).status == 409


def test_a_site_with_meters_cannot_be_deleted_and_its_key_dies_with_it(solar_house):
    servidor, site_key = solar_house
    assert servidor.admin.delete(f"{S}/casa-solar").status == 409
    assert servidor.admin.post(M, {"id": "x", "site": "nenhum"}).status == 422
    for meter_id, category in (("rede", "gridNet"), ("solar", "pvProd"), ("chuveiro", "gridSub")):
        assert servidor.admin.put(f"{M}/{meter_id}", {"categoria": category, "site": None}).status == 200
    assert servidor.admin.get(f"{S}/casa-solar").json["medidores"] == []
    assert servidor.admin.delete(f"{S}/casa-solar").status == 204
    assert servidor.client(site_key).get(S).status == 401
    assert servidor.admin.get(f"{S}/casa-solar").status == 404


def test_the_series_feed_as_json_and_csv(solar_house):
    servidor, _ = solar_house
    feed = servidor.admin.get(f"{M}/rede/serie?intervalo=hora&{DAY_Q}").json
    assert len(feed["timestamps"]) == 3
    assert feed["colunas"]["importado_kwh"] == pytest.approx([1.0, 0.0, 0.3])
    assert feed["colunas"]["exportado_kwh"] == pytest.approx([0.0, 0.8, 0.0])
    quarters = servidor.admin.get(f"{S}/casa-solar/serie?intervalo=15min&{DAY_Q}").json
    assert len(quarters["timestamps"]) == 12
    assert sum(quarters["colunas"]["consumo_kwh"]) == pytest.approx(2.2)
    reply = servidor.admin.get(f"{S}/casa-solar/serie?intervalo=hora&formato=csv&{DAY_Q}")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(reply.body.decode())))
    assert [float(r["consumo_kwh"]) for r in table] == pytest.approx([1.2, 0.5, 0.5])
    assert table[0]["timestamp"] == "2026-10-05T00:00:00-03:00"
    assert servidor.admin.get(f"{S}/casa-solar/serie?formato=xml").status == 422
    assert servidor.admin.get(f"{S}/casa-solar/serie?intervalo=mes").status == 422


def test_the_web_page_names_every_category_in_words():
    from pathlib import Path

    from servidor.domain.categories import LABELS
    page = (Path(__file__).resolve().parent.parent / "servidor" / "web" / "painel.html").read_text("utf-8")
    for code, words in LABELS.items():
        assert f'"{code}": "{words}"' in page
