"""Consumption in the local calendar, answered from rollups, over a real socket (invoices:
test_api_invoices.py)."""
from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

M = "/api/v1/medidores"
HOUR = 3_600_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def feed_hourly(agent, meter_id: str, start_ms: int, hours: int, wh_per_hour: float, seq0: int = 0) -> None:
    """One reading per hour with the counter rising `wh_per_hour` each hour."""
    rows = [{"seq": seq0 + h, "ts": start_ms + h * HOUR, "energia_wh": round(wh_per_hour * h, 3)} for h in range(hours + 1)]
    for i in range(0, len(rows), 1000):
        reply = agent.post(f"{M}/{meter_id}/leituras", {"leituras": rows[i:i + 1000]})
        assert reply.status == 200, reply.body


def test_daily_consumption_counts_25_and_23_hour_days(servidor):
    write, read = servidor.create_meter("lx", fuso="Europe/Lisbon")
    agent, owner = servidor.client(write), servidor.client(read)
    # 1 kWh every hour from 2025-10-24 to 2025-10-29 local: 26 Oct has 25 hours in Lisbon.
    start = ms("2025-10-24T00:00:00+01:00")
    feed_hourly(agent, "lx", start, 24 * 5 + 1, 1000.0)
    rows = owner.get(f"{M}/lx/consumo?intervalo=dia&de=2025-10-25&ate=2025-10-27").json["consumo"]
    assert [r["rotulo"] for r in rows] == ["2025-10-25", "2025-10-26", "2025-10-27"]
    assert [r["kwh"] for r in rows] == pytest.approx([24.0, 25.0, 24.0])
    assert all(r["cobertura"] == pytest.approx(1.0) for r in rows)
    assert rows[1]["inicio"] == "2025-10-26T00:00:00+01:00" and rows[1]["fim"] == "2025-10-27T00:00:00+00:00"


def test_spring_forward_day_has_23_hours(servidor):
    write, read = servidor.create_meter("lx2", fuso="Europe/Lisbon")
    start = ms("2025-03-29T00:00:00+00:00")
    feed_hourly(servidor.client(write), "lx2", start, 24 * 3, 1000.0)
    rows = servidor.client(read).get(f"{M}/lx2/consumo?intervalo=dia&de=2025-03-30&ate=2025-03-30").json["consumo"]
    assert rows[0]["kwh"] == pytest.approx(23.0)


def test_hourly_buckets_in_a_half_hour_zone_split_energy_evenly(servidor):
    write, read = servidor.create_meter("in", fuso="Asia/Kolkata")
    start = ms("2025-06-01T00:00:00+05:30")
    feed_hourly(servidor.client(write), "in", start, 48, 2000.0)
    reply = servidor.client(read).get(f"{M}/in/consumo?intervalo=hora&de=2025-06-01T10:00:00%2B05:30&ate=2025-06-01T13:00:00%2B05:30")
    rows = reply.json["consumo"]
    assert [r["inicio"][11:16] for r in rows] == ["10:00", "11:00", "12:00"]
    assert [r["kwh"] for r in rows] == pytest.approx([2.0, 2.0, 2.0])
    day = servidor.client(read).get(f"{M}/in/consumo?intervalo=dia&de=2025-06-01&ate=2025-06-01").json["consumo"]
    assert day[0]["kwh"] == pytest.approx(48.0)


def test_a_gap_loses_no_energy_but_lowers_coverage(servidor):
    write, read = servidor.create_meter("gap")
    agent = servidor.client(write)
    start = ms("2026-10-05T00:00:00-03:00")
    step = 10 * 60_000
    morning = [{"seq": i, "ts": start + i * step, "energia_wh": 0} for i in range(37)]  # 00:00-06:00
    evening = [{"seq": 100 + i, "ts": start + 18 * HOUR + i * step, "energia_wh": 12000} for i in range(37)]  # 18:00-24:00
    assert agent.post(f"{M}/gap/leituras", {"leituras": morning + evening}).status == 200  # 12 h silent between
    day = servidor.client(read).get(f"{M}/gap/consumo?intervalo=dia&de=2026-10-05&ate=2026-10-05").json["consumo"][0]
    assert day["kwh"] == pytest.approx(12.0)
    assert day["cobertura"] == pytest.approx(0.5)


def test_consumption_stops_at_now_and_marks_the_current_bucket_partial(servidor):
    _, read = servidor.create_meter("agora")
    rows = servidor.client(read).get(f"{M}/agora/consumo?intervalo=dia&de=2026-01-01&ate=2999-12-31").json["consumo"]
    assert rows[-1].get("parcial") is True
    assert all("parcial" not in r for r in rows[:-1])
    assert servidor.client(read).get(f"{M}/agora/consumo?intervalo=dia&de=2999-01-01").json["consumo"] == []


def test_a_consumption_query_past_its_cost_bound_is_400_with_the_numbers(servidor):
    write, read = servidor.create_meter("caro")
    week = 7 * 86_400_000 + 3_600_000  # readings a week apart: every hour apportions every long gap
    now = int(time.time() * 1000)
    servidor.client(write).post("/api/v1/medidores/caro/leituras", {"leituras": [
        {"seq": i, "ts": now - (400 - i) * week, "energia_wh": i * 1000.0} for i in range(400)]})
    owner = servidor.client(read)
    started = time.monotonic()
    reply = owner.get(f"/api/v1/medidores/caro/consumo?intervalo=hora&de={now - 9999 * 3_600_000}")
    assert reply.status == 400 and reply.json["erro"]["codigo"] == "consulta_grande_demais"
    assert "máximo 500000" in reply.json["erro"]["mensagem"] and "dia" in reply.json["erro"]["mensagem"]
    days = owner.get(f"/api/v1/medidores/caro/consumo?intervalo=dia&de={now - 365 * 86_400_000}")
    months = owner.get(f"/api/v1/medidores/caro/consumo?intervalo=mes&de={now - 3650 * 86_400_000}")
    assert days.status == 200 and len(days.json["consumo"]) in (365, 366)
    assert months.status == 200 and len(months.json["consumo"]) in (120, 121)
    assert time.monotonic() - started < 20  # each answer in well under a second here; 34 s before the bound


def test_heavy_reads_wait_for_a_turn_and_ingest_never_does(servidor):
    write, read = servidor.create_meter("fila")
    gate = servidor.app.heavy_reads
    gate.wait_s = 0.05
    held = 0
    try:
        while gate._turns.acquire(blocking=False):  # other long queries hold every turn
            held += 1
        busy = servidor.client(read).get("/api/v1/medidores/fila/consumo")
        assert busy.status == 503 and busy.headers["retry-after"] and busy.json["erro"]["codigo"] == "ocupado"
        assert servidor.client(read).get("/api/v1/medidores/fila/faturas").status == 503
        assert servidor.client(read).get("/api/v1/medidores/fila/leituras").status == 503
        ingest = servidor.client(write).post("/api/v1/medidores/fila/leituras",
                                             {"seq": 1, "ts": int(time.time() * 1000), "energia_wh": 1})
        assert ingest.status == 200 and ingest.json["aceitas"] == 1
    finally:
        for _ in range(held):
            gate._turns.release()
    assert servidor.client(read).get("/api/v1/medidores/fila/consumo").status == 200
