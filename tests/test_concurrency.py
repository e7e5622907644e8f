"""16 meters × 500 readings in parallel over real sockets: exact counts and totals."""
from __future__ import annotations

import threading

import pytest

from tests.conftest import Api

pytestmark = pytest.mark.slow
METERS = 16
READINGS = 500
T0 = 1_790_000_000_000  # 2026-09-21, a past instant
WH_STEP = 3.0


def test_16_meters_500_readings_each_in_parallel_give_exact_totals(servidor_json):
    keys = {f"c{n}": servidor_json.create_meter(f"c{n}")[0] for n in range(METERS)}
    errors: list[str] = []

    def agent(meter_id: str, key: str) -> None:
        api = Api(servidor_json.port, key)
        for seq in range(READINGS):
            reply = api.post(f"/api/v1/medidores/{meter_id}/leituras",
                             {"seq": seq, "ts": T0 + seq * 10_000, "energia_wh": seq * WH_STEP})
            if reply.status != 200 or reply.json["aceitas"] != 1:
                errors.append(f"{meter_id}/{seq}: {reply.status} {reply.body[:100]!r}")
        api.close()

    threads = [threading.Thread(target=agent, args=item) for item in keys.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    admin = servidor_json.admin
    for meter_id in keys:
        meter = admin.get(f"/api/v1/medidores/{meter_id}").json
        assert meter["resumo"]["leituras"] == READINGS
        assert meter["ultima_leitura"]["seq"] == READINGS - 1
        consumo = admin.get(f"/api/v1/medidores/{meter_id}/consumo?intervalo=hora&de={T0 - 3_600_000}&ate={T0 + READINGS * 10_000 + 3_600_000}").json
        assert consumo["total_kwh"] == pytest.approx((READINGS - 1) * WH_STEP / 1000)
    health = admin.get("/api/v1/saude").json
    assert health["armazenamento"]["leituras"] == METERS * READINGS
