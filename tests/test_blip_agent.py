"""The blink path end to end: an Arduino pulse counter on a pseudo-terminal, the agent, a server
that goes down and comes back, and blipserver's /since answering every blink exactly once."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from drivers.simulated import PulseEmitter
from medidor.config import AgentConfig, DeviceSettings
from medidor.device_source import MAX_PULSES_PER_READING
from medidor.spool import MAX_RECORD_BYTES
from medidor.server_api import reading_payload
from tests.conftest import ADMIN as ADMIN_HEADER, REGISTRATION, Api
from tests.medidor_harness import Running, Server, server, wait_for  # noqa: F401 (fixture)



def _points(server: Server) -> list[list[int]]:
    api = Api(server.port, ADMIN_HEADER)
    try:
        meter = api.get("/api/v1/medidores/pulso")
        if meter.status == 404 or meter.json["id_blip"] is None:
            return []  # not registered yet, or no blink stored yet
        reply = api.get(f"/since/{meter.json['id_blip']}/0")
        assert reply.status == 200, reply.body
        return reply.json
    finally:
        api.close()


@pytest.mark.slow
def test_every_blink_reaches_since_once_across_a_server_outage(tmp_path: Path, server: Server) -> None:
    blinking = threading.Event()
    emitter = PulseEmitter(lambda t: 36_000.0 if blinking.is_set() else 0.0, 1000)  # 10 blinks a second
    path = emitter.start()
    cfg = AgentConfig(medidor="pulso", servidor=server.url, estado=tmp_path / "pulso", chave_registro=REGISTRATION,
                      intervalo_s=0.2, fonte="pulsos", dispositivo=DeviceSettings(porta=path, pulsos_por_kwh=1000))
    run = Running(cfg)
    try:
        # Blinks start once the agent reads the port: a pty drops what is written before that.
        wait_for(lambda: len(server.readings("pulso")) >= 1, "the agent reading the device")
        blinking.set()
        wait_for(lambda: len(_points(server)) >= 5, "first blinks on the server")
        server.stop()
        time.sleep(1.5)  # the meter keeps blinking; the agent spools
        during = emitter.sent
        server.start()
        wait_for(lambda: len(_points(server)) >= during, "blinks of the outage")
        blinking.clear()
        time.sleep(0.5)  # the emitter's last tick
        sent = emitter.sent
        wait_for(lambda: len(_points(server)) >= sent, "every blink")
    finally:
        run.stop()
        emitter.stop()
    points = _points(server)
    assert len(points) == sent
    stamps = [p[0] for p in points]
    assert stamps == sorted(set(stamps))
    assert all(80 <= ms <= 130 for _, ms in points[1:])  # 10 a second, give or take the pty's timing
    meter = server.meter("pulso")
    assert meter["pulsos_por_kwh"] == 1000 and meter["id_blip"] == 1
    assert server.readings("pulso")[-1]["energia_wh"] == pytest.approx(sent)  # 1 Wh a blink


def test_a_reading_with_the_most_blinks_fits_a_spool_record() -> None:
    biggest = {"seq": 2**63 - 1, "ts": "2026-11-30T12:00:00.123-03:00", "energia_wh": 1e14, "potencia_w": -1e9,
               "pulsos": [[2**53 - 1, 2**31 - 1]] * MAX_PULSES_PER_READING}
    payload = reading_payload(biggest)
    assert len(payload) + 1200 < MAX_RECORD_BYTES  # room for every measurement code as well
    assert json.loads(payload)["pulsos"][0] == [2**53 - 1, 2**31 - 1]
