"""The issue's "done when": three simulated meters and a simulated PM710 feed one server through
an outage with nothing lost or doubled, the server's counter-based totals match the agents',
and a new Modbus model needs only its map file."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import drivers.register_map
from drivers.simulated import ModbusSimulator
from medidor.config import AgentConfig, DeviceSettings
from medidor.profiles import make_profile
from medidor.spool import Spool
from medidor.tesla_config import agent_configs, parse_config_xml
from tests.conftest import REGISTRATION
from tests.medidor_harness import Running, Server, server, wait_for  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow
TZ = ZoneInfo("America/Sao_Paulo")



def server_total_kwh(server: Server, meter_id: str) -> float:
    today = datetime.now(TZ).date()
    api = server.admin()
    try:
        reply = api.get(f"/api/v1/medidores/{meter_id}/consumo?intervalo=dia&de={today - timedelta(days=2)}"
                        f"&ate={today + timedelta(days=1)}")
        assert reply.status == 200, reply.body
        return reply.json["total_kwh"]
    finally:
        api.close()


def test_four_meters_through_an_outage_lose_nothing_and_totals_match(tmp_path: Path, server: Server) -> None:
    base = AgentConfig(medidor="x", servidor=server.url, estado=tmp_path, chave_registro=REGISTRATION,
                       intervalo_s=0.1)
    sim = ModbusSimulator("pm710", make_profile("comercial", 9))
    _, port = sim.start()
    configs = [
        replace(base, medidor="casa", estado=tmp_path / "casa", perfil="residencial", semente=1, multiplicador=3.0),
        replace(base, medidor="padaria", estado=tmp_path / "padaria", perfil="comercial", semente=2),
        replace(base, medidor="telhado", estado=tmp_path / "telhado", perfil="solar", semente=3),
        replace(base, medidor="quadro", estado=tmp_path / "quadro", fonte="modbus",
                dispositivo=DeviceSettings(modelo="pm710", host="127.0.0.1", tcp_porta=port)),
    ]
    runs = [Running(c) for c in configs]
    try:
        wait_for(lambda: all(len(server.readings(c.medidor)) >= 3 for c in configs), "all four meters reporting")
        server.stop()
        marks = [r.agent.next_seq for r in runs]
        wait_for(lambda: all(r.agent.next_seq >= m + 5 for r, m in zip(runs, marks)), "measuring during the outage")
        server.start()
        wait_for(lambda: all(r.agent.spool is not None and r.agent.spool.pending == 0 and r.agent.next_seq >= m + 10
                             for r, m in zip(runs, marks)), "every backlog delivered")
    finally:
        for run in runs:
            run.stop()
        sim.stop()
    for config in configs:
        with Spool(config.estado / "spool") as spool:
            last_seq, pending = spool.last_seq, spool.pending
        rows = server.readings(config.medidor)
        assert pending == 0
        assert [r["seq"] for r in rows] == list(range(last_seq + 1)), config.medidor
        measured_kwh = (rows[-1]["energia_wh"] - rows[0]["energia_wh"]) / 1000
        assert server_total_kwh(server, config.medidor) == pytest.approx(measured_kwh, abs=1e-3), config.medidor
    assert server.meter("telhado")["categoria"] == "pvProd"


def test_a_new_modbus_model_needs_only_its_map_file(tmp_path: Path, server: Server,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    text = (drivers.register_map.MAPS_DIR / "pm710.toml").read_text()
    (maps / "novo9000.toml").write_text(text.replace('model = "pm710"', 'model = "novo9000"'))
    monkeypatch.setattr(drivers.register_map, "MAPS_DIR", maps)
    xml = """<?xml version='1.0' encoding='UTF-8'?>
<configuracio>
  <node id="7" name="Oficina" />
  <devices>
    <device id="1" type="tcp" enabled="true"><host>127.0.0.1</host><tcpport>PORT</tcpport></device>
  </devices>
  <equips>
    <analitzador id="3" device="1" model="NOVO9000" driver="modBusComm">
      <params><tempsgravacio>1</tempsgravacio><tempslectura>0.2</tempslectura></params>
      <peticions><consulta>PAT</consulta><consulta>CEA</consulta></peticions>
    </analitzador>
  </equips>
</configuracio>"""
    sim = ModbusSimulator("novo9000", make_profile("residencial", 4), unit=3)
    _, port = sim.start()
    try:
        parsed = parse_config_xml(xml.replace("PORT", str(port)).encode())
        [config] = agent_configs(parsed, servidor=server.url, estado=tmp_path / "e", chave_registro=REGISTRATION,
                                 fuso="America/Sao_Paulo", limite_alerta_kwh=500.0, multiplicador=1.0)
        assert config.medidor == "tesla-7-3" and config.dispositivo.modelo == "novo9000"
        # One averaged reading per minute is too slow for a test; the reads themselves are what matter.
        run = Running(replace(config, gravacao_min=0))
        wait_for(lambda: len(server.readings("tesla-7-3")) >= 2, "readings from the new model")
        run.stop()
    finally:
        sim.stop()
    reading = server.readings("tesla-7-3")[-1]
    assert set(reading) >= {"PAT", "CEA"} and "TPF" not in reading


def test_medidor_config_runs_one_agent_per_enabled_analyzer(tmp_path: Path, server: Server) -> None:
    sims = [ModbusSimulator("pm710", make_profile("comercial", 1), unit=1),
            ModbusSimulator("pm710", make_profile("comercial", 2), unit=2)]
    ports = [sim.start()[1] for sim in sims]
    devices = "".join(f"""
    <device id="{i}" type="tcp" enabled="{'false' if i == 3 else 'true'}"><host>127.0.0.1</host>
      <tcpport>{ports[min(i, 2) - 1]}</tcpport></device>""" for i in (1, 2, 3))
    analyzers = "".join(f"""
    <analitzador id="{i}" device="{i}" model="PM710" driver="modBusComm">
      <params><tempsgravacio>1</tempsgravacio><tempslectura>0.2</tempslectura></params>
      <peticions><consulta>PAT</consulta></peticions>
    </analitzador>""" for i in (1, 2, 3))
    (tmp_path / "config.xml").write_text(f"""<?xml version='1.0' encoding='UTF-8'?>
<configuracio><node id="4" name="CIFP" /><devices>{devices}</devices><equips>{analyzers}</equips></configuracio>""")
    (tmp_path / "lector.ini").write_text("[General]\nlog_level=info\nauto_start=yes\nlog_dir=log\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    proc = subprocess.Popen([sys.executable, "-m", "medidor", "--config", str(tmp_path / "config.xml"),
                             "--servidor", server.url, "--chave-registro", REGISTRATION, "--estado",
                             str(tmp_path / "estado")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    try:
        def registered() -> bool:
            api = server.admin()
            try:
                ids = {m["id"] for m in api.get("/api/v1/medidores").json["medidores"]}
            finally:
                api.close()
            return ids == {"tesla-4-1", "tesla-4-2"}  # analyzer 3's device is disabled

        wait_for(registered, "both enabled analyzers registered")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        for sim in sims:
            sim.stop()
    log_text = (tmp_path / "log" / "medidor.log").read_text()
    assert "tesla-4-1" in log_text and "tesla-4-2" in log_text
    assert server.meter("tesla-4-1")["silencio_s"] >= 180  # 3 recording windows of 1 minute
