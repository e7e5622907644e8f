"""Tesla Analyzer's exports: localFile (golden file of a simulated day, torn lines, days rolling at
local midnight, through a real agent reading a simulated PM710) and clientRest to a real servidor
that is down for 30 s (every period stored exactly once)."""
from __future__ import annotations

import math
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from drivers.simulated import ModbusSimulator
from medidor import exports
from medidor.config import AgentConfig, DeviceSettings, ExportSpec
from medidor.local_file import LocalFile
from medidor.profiles import make_profile
from medidor.tesla_config import agent_configs, parse_config_xml
from tests.conftest import REGISTRATION
from tests.medidor_harness import Running, Server, server, wait_for  # noqa: F401 (fixture)

GOLDEN = Path(__file__).parent / "golden" / "localfile-20261015.txt"
TZ = ZoneInfo("America/Sao_Paulo")
CODES = ("TPF", "IPF", "FRE", "PAT", "FPT", "CEA")


def simulated_day_period(i: int) -> dict:
    """Period i (0-95) of a deterministic day of a three-phase analyzer."""
    load = 0.5 + 0.5 * math.sin(math.pi * i / 48)
    return {"TPF": (220.0 + 2 * math.sin(i / 7), 219.5 + math.cos(i / 5), 221.25),
            "IPF": (10 * load, 9 * load, 11 * load, 0.5 * load), "FRE": 60.0 + 0.01 * (i % 3 - 1),
            "PAT": 7000 * load, "FPT": 0.9 + 0.05 * load, "CEA": 12345.0 + i * 1.75}


def test_a_simulated_day_matches_the_golden_file_byte_for_byte(tmp_path: Path) -> None:
    target = LocalFile(tmp_path / "dades" / "1", CODES)
    start = datetime(2026, 10, 15, 0, 15, tzinfo=TZ)
    for i in range(95):  # 00:15 … 23:45
        assert target.write(start + timedelta(minutes=15 * i), simulated_day_period(i))
    assert target.write(datetime(2026, 10, 16, 0, 0, tzinfo=TZ), simulated_day_period(95))  # midnight: a new day
    written = (tmp_path / "dades" / "1" / "20261015.txt").read_bytes()
    assert written == GOLDEN.read_bytes()
    lines = written.decode("ascii").splitlines()
    assert lines[0] == "HORA\tTPF0\tTPF1\tTPF2\tIPF0\tIPF1\tIPF2\tIPF3\tFRE0\tPAT0\tFPT0\tCEA0"
    assert lines[1] == ("00:15:00\t   220.00\t   220.50\t   221.25\t     5.00\t     4.50\t     5.50\t     0.25"
                        "\t    59.99\t  3500.00\t     0.93\t 12345.00")
    assert len(lines) == 96 and lines[-1].startswith("23:45:00\t")
    next_day = (tmp_path / "dades" / "1" / "20261016.txt").read_text().splitlines()
    assert next_day[0] == lines[0] and next_day[1].startswith("00:00:00\t")


def test_a_torn_line_is_cut_and_a_period_is_never_written_twice(tmp_path: Path) -> None:
    day = datetime(2026, 10, 15, 10, 0, tzinfo=TZ)
    LocalFile(tmp_path, CODES).write(day, simulated_day_period(0))
    path = tmp_path / "20261015.txt"
    with open(path, "ab") as handle:  # what a power cut in the middle of a row leaves
        handle.write(b"10:15:00\t   220.0")
    again = LocalFile(tmp_path, CODES)  # the agent started again
    assert not again.write(day, simulated_day_period(0))  # already the last row
    assert again.write(day + timedelta(minutes=15), {"TPF": (230.0, 231.0, 232.0)})  # codes changed by a RELOAD
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and all(line.count("\t") == len(CODES) + 5 for line in lines)
    assert lines[2] == "10:15:00\t   230.00\t   231.00\t   232.00" + "\t        -" * 8


def test_config_xml_exports_reach_the_agent(tmp_path: Path) -> None:
    xml = """<configuracio><node id="4" name="CIFP"/><devices><device id="1"><port>/dev/ttyUSB0</port></device>
      </devices><equips><analitzador id="3" device="1" model="PM710"><params/>
        <dataexports><dataexport type="localFile" target="dades"/>
          <dataexport type="clientRest" target="http://central:5000/ws/v2"/></dataexports>
      </analitzador></equips></configuracio>"""
    [config] = agent_configs(parse_config_xml(xml.encode()), servidor="http://127.0.0.1:5000", estado=tmp_path,
                             chave_registro=None, fuso="America/Sao_Paulo", limite_alerta_kwh=500.0,
                             multiplicador=1.0, base=tmp_path, chave_central="no_x")
    assert config.exportacoes == (ExportSpec("localFile", str(tmp_path / "dades"), "4", "3", "PM710"),
                                  ExportSpec("clientRest", "http://central:5000/ws/v2", "4", "3", "PM710"))
    assert config.chave_central == "no_x"
    with pytest.raises(ValueError, match="linha 3: dataexport type='ftp'"):
        parse_config_xml(xml.replace('"localFile"', '"ftp"').encode())


def pm710_config(tmp_path: Path, server: Server, port: int, *specs: ExportSpec, **kw: object) -> AgentConfig:
    return replace(AgentConfig(medidor="quadro", servidor=server.url, estado=tmp_path / "quadro",
                               chave_registro=REGISTRATION, intervalo_s=1.0, fonte="modbus",
                               codigos=("TPF", "PAT", "CEA"), exportacoes=specs,
                               dispositivo=DeviceSettings(modelo="pm710", host="127.0.0.1", tcp_porta=port)), **kw)


def test_an_agent_writes_its_periods_to_the_local_file(tmp_path: Path, server: Server) -> None:
    sim = ModbusSimulator("pm710", make_profile("comercial", 7))
    _, port = sim.start()
    try:
        # Every read is a period here: a 1-minute recording window is too slow for a test.
        run = Running(pm710_config(tmp_path, server, port, ExportSpec("localFile", str(tmp_path / "dades"), "4", "1"),
                                   intervalo_s=0.3))
        directory = tmp_path / "dades" / "1"

        def rows() -> list[str]:
            return [line for f in sorted(directory.glob("*.txt")) for line in f.read_text().splitlines()[1:]]

        wait_for(lambda: len(rows()) >= 4, "four periods in the file")
        run.stop()
    finally:
        sim.stop()
    first = sorted(directory.glob("*.txt"))[0].read_text()
    assert first.startswith("HORA\tTPF0\tTPF1\tTPF2\tPAT0\tCEA0\n")
    server_times = {r["ts"][11:19] for r in server.readings("quadro")}
    assert {row[:8] for row in rows()} <= server_times | {row[:8] for row in rows()[-1:]}


@pytest.mark.slow
def test_client_rest_survives_a_30_s_outage_with_every_period_stored_once(tmp_path: Path, server: Server,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Retries capped at 2 s so the backlog goes as soon as the central is back.
    monkeypatch.setattr(exports, "RETRY_CAP_S", 2.0)
    key = server.admin().post("/api/v1/nos/9/chave").json["chave"]
    sim = ModbusSimulator("pm710", make_profile("comercial", 8))
    _, port = sim.start()
    try:
        run = Running(pm710_config(tmp_path, server, port, ExportSpec("clientRest", f"{server.url}/ws/v2", "9", "1",
                                                                      "PM710"), chave_central=key))
        wait_for(lambda: len(server.readings("9-1")) >= 3, "periods at the central")
        server.stop()
        time.sleep(15)
        waiting = run.agent.exports[0]
        assert waiting.spool.pending >= 10 and "central fora do ar" in (waiting.last_error or "")
        time.sleep(15)
        server.start()
        wait_for(lambda: len(server.readings("quadro")) >= 35, "readings made during the outage", 60)
        sim.stop()  # no more periods: the queue and the spool can be seen to empty
        wait_for(lambda: run.agent.spool.pending == 0 and
                 len(server.readings("9-1")) == len(server.readings("quadro")), "the backlog at the central", 60)
        run.stop()
    finally:
        sim.stop()
    own = [r["ts"][:19] for r in server.readings("quadro")]
    central = [r["ts"][:19] for r in server.readings("9-1")]
    assert len(central) == len(set(central))  # stored once
    assert set(central) == set(own)           # every period
    assert server.meter("9-1")["nome"] == "PM710 1 (nó 9)"
