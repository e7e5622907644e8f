"""`medidor --config ... --porta-controle 0` as a real process, driven by `medidor controle` as
another: lector.ini's auto_start=no, START, a broken RELOAD, the address registered on the
server, and SHUTDOWN ending the process cleanly."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.simulated import ModbusSimulator
from medidor.profiles import make_profile
from tests.conftest import REGISTRATION
from tests.medidor_harness import Server, server, wait_for  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

CONFIG = """<?xml version='1.0' encoding='UTF-8'?>
<configuracio><node id="8" name="Quadro" location="Galpão 2" />
  <devices><device id="1" type="tcp"><host>127.0.0.1</host><tcpport>{port}</tcpport></device></devices>
  <equips><analitzador id="1" device="1" model="PM710" driver="modBusComm">
    <params><tempsgravacio>1</tempsgravacio><tempslectura>0.3</tempslectura></params>
    <peticions><consulta>TPF</consulta><consulta>PAT</consulta></peticions>
  </analitzador></equips>
</configuracio>
"""


def controle(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.run([sys.executable, "-m", "medidor", "controle", *args], capture_output=True, text=True,
                          timeout=30, env=env)


def test_control_port_of_a_real_process(tmp_path: Path, server: Server) -> None:
    sim = ModbusSimulator("pm710", make_profile("comercial", 5))
    _, port = sim.start()
    config = tmp_path / "config.xml"
    config.write_text(CONFIG.format(port=port), encoding="utf-8")
    (tmp_path / "lector.ini").write_text("[General]\nlog_level=info\nauto_start=no\nlog_dir=log\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    proc = subprocess.Popen([sys.executable, "-m", "medidor", "--config", str(config), "--servidor", server.url,
                             "--chave-registro", REGISTRATION, "--estado", str(tmp_path / "estado"),
                             "--porta-controle", "0", "--sem-teclado"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    log = tmp_path / "log" / "medidor.log"
    try:
        found: list[str] = []

        def announced() -> bool:
            match = re.search(r"porta de controle em (127\.0\.0\.1:\d+)", log.read_text() if log.exists() else "")
            if match:
                found.append(match.group(1))
            return bool(match)

        wait_for(announced, "the control port in the log")
        address = found[0]
        wait_for(lambda: controle(address, "STATUS").stdout == "PAUSED\tNOCOMM\tnenhuma leitura ainda\n",
                 "paused by auto_start=no")
        assert controle(address, "START", "1").stdout == "START\tOK\n"
        wait_for(lambda: controle(address, "STATUS").stdout == "STARTED\tCOMM\n", "reading after START")
        wait_for(lambda: server.meter("tesla-8-1").get("controle") == address, "the address on the server")
        assert server.meter("tesla-8-1")["local"] == "Galpão 2"  # <node location>

        config.write_text(CONFIG.format(port=port).replace("<tempslectura>0.3", "<tempslectura>abc"))
        broken = controle(address, "RELOAD")
        assert broken.returncode == 1
        assert broken.stdout.startswith("SRV_CONF_ERR\tconfig.xml, linha 5: <tempslectura> deve ser um número")
        assert controle(address, "GETCONF").stdout.splitlines()[1].split("\t")[5] == "tempslectura=0.3"
        assert controle(address, "NADA").returncode == 1

        shutdown = controle(address, "SHUTDOWN")
        assert shutdown.stdout == "DONE\n"
        assert proc.wait(30) == 0
        gone = controle(address, "STATUS")
        assert gone.returncode == 3 and "não foi possível falar" in gone.stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sim.stop()
