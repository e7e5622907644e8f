"""The agent reading simulated hardware from `drivers.simulated`, and `medidor simular-dispositivo`."""
from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from drivers.simulated import CirbusResponder, ModbusSimulator, PulseEmitter
from shared.backoff import Backoff
from medidor.config import AgentConfig, ConfigError, DeviceSettings
from medidor.profiles import make_profile
from tests.conftest import REGISTRATION
from tests.medidor_harness import Running, Server, server, wait_for  # noqa: F401 (fixture)



def modbus_config(tmp_path: Path, server: Server, port: int, modelo: str = "pm710", **kw: object) -> AgentConfig:
    return replace(AgentConfig(medidor="quadro", servidor=server.url, estado=tmp_path / "quadro",
                               chave_registro=REGISTRATION, intervalo_s=0.1, fonte="modbus",
                               dispositivo=DeviceSettings(modelo=modelo, host="127.0.0.1", tcp_porta=port)), **kw)


def test_pm710_readings_carry_the_requested_codes_and_its_own_counter(tmp_path: Path, server: Server) -> None:
    sim = ModbusSimulator("pm710", make_profile("comercial", 1))
    _, port = sim.start()
    try:
        run = Running(modbus_config(tmp_path, server, port, codigos=("TPF", "PAT", "CEA")))
        wait_for(lambda: len(server.readings("quadro")) >= 3, "PM710 readings")
        run.stop()
    finally:
        sim.stop()
    reading = server.readings("quadro")[-1]
    assert set(reading) >= {"TPF", "PAT", "CEA", "energia_wh", "potencia_w"}
    assert "IPF" not in reading and "estimada" not in reading
    assert len(reading["TPF"]) == 3
    assert reading["energia_wh"] == pytest.approx(reading["CEA"] * 1000)


def test_device_without_energy_register_sends_estimated_counter(tmp_path: Path, server: Server) -> None:
    sim = ModbusSimulator("pm500", make_profile("residencial", 1))
    _, port = sim.start()
    try:
        run = Running(modbus_config(tmp_path, server, port, modelo="pm500"))
        wait_for(lambda: len(server.readings("quadro")) >= 4, "PM500 readings")
        run.stop()
    finally:
        sim.stop()
    readings = server.readings("quadro")
    assert all(r.get("estimada") for r in readings)
    counters = [r["energia_wh"] for r in readings]
    assert counters == sorted(counters) and counters[-1] > counters[0]


def test_device_failures_are_retried_alerted_and_survived(tmp_path: Path, server: Server) -> None:
    sim = ModbusSimulator("pm710", make_profile("residencial", 2))
    _, port = sim.start()
    # Fast retries so the alert threshold (DEVICE_ALERT_AFTER failures) is reached in a moment.
    run = Running(modbus_config(tmp_path, server, port), device_backoff=Backoff(0.05, 0.1))
    try:
        wait_for(lambda: len(server.readings("quadro")) >= 2, "readings before the unplug")
        sim.stop()  # the device goes away
        wait_for(lambda: "falha" in run.agent.status.snapshot().dispositivo, "failure on the status line")
        api = server.admin()
        try:
            def alerted() -> bool:
                alerts = api.get("/api/v1/medidores/quadro/alertas").json["alertas"]
                return any(a["tipo"] == "falha_dispositivo" for a in alerts)

            wait_for(alerted, "falha_dispositivo alert on the server")
        finally:
            api.close()
        count = len(server.readings("quadro"))
        sim = ModbusSimulator("pm710", make_profile("residencial", 2), port=port)
        sim.start()  # plugged back in
        wait_for(lambda: len(server.readings("quadro")) >= count + 2, "readings after the device returns")
        assert run.agent.status.snapshot().dispositivo == "ok"
        run.stop()
    finally:
        sim.stop()


def test_unknown_model_is_a_configuration_error(tmp_path: Path, server: Server) -> None:
    cfg = modbus_config(tmp_path, server, 1, modelo="pm999")
    run = Running(cfg)
    run.thread.join(30)
    assert isinstance(run.error, ConfigError) and "pm999" in str(run.error)


def test_simular_dispositivo_serves_a_pm710_an_agent_can_read(tmp_path: Path, server: Server) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "medidor", "simular-dispositivo", "--modelo", "pm710",
                             "--perfil", "comercial", "--semente", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        match = re.search(r"--host-modbus (\S+) --porta-modbus (\d+)", lines[1])
        assert match, lines
        run = Running(modbus_config(tmp_path, server, int(match.group(2))))
        wait_for(lambda: len(server.readings("quadro")) >= 2, "readings from the simulated PM710")
        run.stop()
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
    assert "simulador parado" in proc.stdout.read()


def test_cvmk_over_cirbus_on_a_pseudo_terminal(tmp_path: Path, server: Server) -> None:
    responder = CirbusResponder(make_profile("comercial", 1), 1)
    path = responder.start()
    try:
        run = Running(AgentConfig(medidor="cvm", servidor=server.url, estado=tmp_path / "cvm",
                                  chave_registro=REGISTRATION, intervalo_s=0.2, fonte="cirbus",
                                  dispositivo=DeviceSettings(porta=path, endereco=1)))
        wait_for(lambda: len(server.readings("cvm")) >= 3, "CIRBUS readings")
        run.stop()
    finally:
        responder.stop()
    reading = server.readings("cvm")[-1]
    assert len(reading["TPF"]) == 3 and reading["estimada"] is True  # CIRBUS has no energy command mapped


def test_arduino_pulses_make_a_counter_that_continues_across_restarts(tmp_path: Path, server: Server) -> None:
    emitter = PulseEmitter(lambda t: 36_000.0, 1000)  # 10 Wh/s: 10 blinks a second
    path = emitter.start()
    cfg = AgentConfig(medidor="pulso", servidor=server.url, estado=tmp_path / "pulso", chave_registro=REGISTRATION,
                      intervalo_s=0.2, fonte="pulsos", dispositivo=DeviceSettings(porta=path, pulsos_por_kwh=1000))
    try:
        run = Running(cfg)
        wait_for(lambda: len(server.readings("pulso")) >= 4, "pulse readings")
        run.stop()
        first = server.readings("pulso")[-1]["energia_wh"]
        run = Running(cfg)
        wait_for(lambda: len(server.readings("pulso")) >= 8, "pulse readings after a restart")
        run.stop()
    finally:
        emitter.stop()
    counters = [r["energia_wh"] for r in server.readings("pulso")]
    assert counters == sorted(counters) and counters[-1] > first > 0


def test_pm710_with_rtu_framing_over_tcp(tmp_path: Path, server: Server) -> None:
    sim = ModbusSimulator("pm710", make_profile("residencial", 5), framer="rtu", unit=7)
    host, port = sim.start()
    try:
        cfg = modbus_config(tmp_path, server, 502, dispositivo=DeviceSettings(modelo="pm710", porta=f"socket://{host}:{port}",
                                                                            endereco=7))
        run = Running(cfg)
        wait_for(lambda: len(server.readings("quadro")) >= 2, "readings over RTU framing")
        run.stop()
    finally:
        sim.stop()
    assert "CEA" in server.readings("quadro")[-1]


def test_a_replugged_pulse_counter_continues_from_its_last_reading(tmp_path: Path, monkeypatch) -> None:
    """An unplug reopens the device; the counter must go on from the last reading, not from the
    value at start. A replug at the same path cannot be made with openpty (each pair gets a new
    name), so the device factory is replaced by one that records what it is asked to resume from."""
    import drivers
    from drivers import DeviceDisconnected, Sample
    from medidor.device_source import DeviceSource, SourceError

    asked: list[float] = []

    class FlakyCounter:
        def __init__(self, start_wh: float) -> None:
            self.wh = start_wh
            self.reads = 0

        def read(self) -> Sample:
            self.reads += 1
            if self.reads == 3:
                raise DeviceDisconnected("cabo desconectado")
            self.wh += 10.0
            return Sample(ts_ms=1_790_000_000_000 + self.reads, medidas=(), energia_wh=self.wh, potencia_w=None)

        def close(self) -> None:
            pass

    def fake_open(config, *, start_wh=0.0):
        asked.append(start_wh)
        return FlakyCounter(start_wh)

    monkeypatch.setattr(drivers, "open_device", fake_open)
    cfg = AgentConfig(medidor="pulso", servidor="http://127.0.0.1:1", estado=tmp_path / "p", fonte="pulsos",
                      dispositivo=DeviceSettings(porta="/dev/ttyACM0", pulsos_por_kwh=1000))
    source = DeviceSource(cfg, start_wh=100.0)
    values = [source.measure(0).energia_wh, source.measure(0).energia_wh]
    with pytest.raises(SourceError):
        source.measure(0)
    values.append(source.measure(0).energia_wh)
    assert asked == [100.0, 120.0]
    assert values == [110.0, 120.0, 130.0]
