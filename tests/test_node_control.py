"""The node's control port (Tesla Analyzer's remote control) over real sockets, against agents
reading a simulated PM710 (real pymodbus server) and a simulated CVMk (CIRBUS on a pty), both
configured by one config.xml: every verb, RELOAD with a changed file and with a broken one."""
from __future__ import annotations

import argparse
import io
import socket
import threading
from pathlib import Path
from typing import Iterator

import pytest

from drivers.simulated import CirbusResponder, ModbusSimulator
from medidor import node_cli
from medidor.agent import Agent
from medidor.cli import run_agents
from medidor.node_server import ControlServer
from medidor.profiles import make_profile
from medidor.status import Console
from medidor.tesla_config import agents_from_tesla
from shared.backoff import Backoff
from shared.measurement_names import CODE_NAMES
from shared.models import MEASUREMENT_CODES
from shared.node_client import NodeUnreachable, ask
from shared.node_protocol import (AnswerReader, LineReader, ProtocolError, encode_answer, parse_command,
                                  request_line)
from tests.conftest import REGISTRATION
from tests.medidor_harness import Server, server, wait_for  # noqa: F401 (fixture)

CONFIG = """<?xml version='1.0' encoding='UTF-8'?>
<configuracio>
  <node id="7" name="Oficina" location="Sa Pobla" />
  <devices>
    <device id="1" type="tcp" enabled="true"><host>127.0.0.1</host><tcpport>{modbus}</tcpport><timeout>5</timeout></device>
    <device id="2" type="serial" enabled="true"><port>{tty}</port><baud>9600</baud><timeout>5</timeout></device>
  </devices>
  <equips>
    <analitzador id="1" device="1" model="PM710" driver="modBusComm">
      <params><fabricant>Schneider</fabricant><tempsgravacio>1</tempsgravacio><tempslectura>{interval}</tempslectura></params>
      <peticions>{codes}</peticions>
    </analitzador>
    <analitzador id="2" device="2" model="CVMk" driver="cirbus">
      <params><fabricant>Circutor</fabricant><tempsgravacio>1</tempsgravacio><tempslectura>0.3</tempslectura></params>
      <peticions><consulta>TPF</consulta><consulta>IPF</consulta><consulta>FRE</consulta></peticions>
    </analitzador>
  </equips>
</configuracio>
"""
PM710_CODES = ("TPF", "IPF", "FRE", "PAT", "FPT", "THDV", "CEA", "CER")


def write_config(path: Path, modbus: int, tty: str, interval: float = 0.3, codes=PM710_CODES) -> None:
    xml = CONFIG.format(modbus=modbus, tty=tty, interval=interval,
                        codes="".join(f"<consulta>{c}</consulta>" for c in codes))
    path.write_text(xml, encoding="utf-8")


class Node:
    """`medidor --config ... --porta-controle 0` run in this process, on a thread."""

    def __init__(self, tmp_path: Path, server: Server, config: Path, *, paused: bool = False) -> None:
        self.args = argparse.Namespace(config=config, lector=None, servidor=server.url, estado=tmp_path / "estado",
                                       chave_registro=REGISTRATION, fuso="America/Sao_Paulo", limite_alerta=500.0,
                                       multiplicador=1.0, porta_controle=0, host_controle="127.0.0.1",
                                       chave_controle=None)
        configs, _ = agents_from_tesla(self.args)
        # Quick device retries: on a loaded machine a first read may time out, and the agent's
        # own backoff (1 s doubling to a minute) would outlast the test's patience.
        self.agents = [Agent(c, on_message=lambda _: None, device_backoff=Backoff(0.1, 0.5)) for c in configs]
        if paused:
            for agent in self.agents:
                agent.controls.set_paused(True, "auto_start=no")
        self.stop = threading.Event()
        self.control = node_cli.start(self.args, self.agents, self.stop)
        assert self.control is not None
        self.address = "%s:%d" % self.control.address
        self.result: list[int] = []
        self.thread = threading.Thread(target=lambda: self.result.append(
            run_agents(self.agents, Console(io.StringIO(), interactive=False), use_keyboard=False, stop=self.stop)))
        self.thread.start()

    def ask(self, verb: str, target: str | None = None) -> list[str]:
        return list(ask(self.address, verb, target).lines)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(60)
        self.control.stop()


def wait_status(node: Node, target: str, expected: str, what: str) -> None:
    """Wait for STATUS `target` to answer `expected`; a timeout names the last answer."""
    seen: list[list[str]] = []
    try:
        wait_for(lambda: (seen.append(node.ask("STATUS", target)), seen[-1] == [expected])[1], what, 60)
    except AssertionError:
        raise AssertionError(f"{what}: STATUS {target} still answers {seen[-1] if seen else None}") from None


@pytest.fixture
def devices() -> Iterator[tuple[int, str]]:
    modbus = ModbusSimulator("pm710", make_profile("comercial", 3))
    _, port = modbus.start()
    cirbus = CirbusResponder(make_profile("residencial", 4), address=2)
    tty = cirbus.start()
    try:
        yield port, tty
    finally:
        cirbus.stop()
        modbus.stop()


def test_every_verb_over_a_real_socket(tmp_path: Path, server: Server, devices: tuple[int, str]) -> None:
    config = tmp_path / "config.xml"
    write_config(config, *devices)
    node = Node(tmp_path, server, config)
    try:
        wait_status(node, "1", "STARTED\tCOMM", "PM710 read")
        wait_status(node, "2", "STARTED\tCOMM", "CVMk read")
        assert node.ask("STATUS") == ["STARTED\tCOMM"]
        # The meter id names an analyzer as well as its id in config.xml.
        assert node.ask("STATUS", "tesla-7-2") == ["STARTED\tCOMM"]
        assert node.ask("STATUS", "9")[0].startswith("SRV_ERR analisador 9 desconhecido")

        help_lines = node.ask("HELP")
        assert any(line.startswith("RELOAD\t") for line in help_lines) and len(help_lines) >= 15

        pm710 = {tuple(line.split("\t")[:2]): line.split("\t") for line in node.ask("GETVARS", "1")}
        assert pm710[("TPF", "1")][3] == "V" and 100 < float(pm710[("TPF", "1")][2]) < 300
        assert pm710[("IPF", "N")][3] == "A"
        assert pm710[("FRE", "-")][3] == "Hz" and 45 < float(pm710[("FRE", "-")][2]) < 65
        assert {"THDV", "CER", "FPT"} <= {code for code, _ in pm710}
        cvmk = {line.split("\t")[0] for line in node.ask("GETVARS", "2")}
        assert {"TPF", "IPF", "FRE"} <= cvmk and "THDV" not in cvmk
        assert node.ask("GETVARS")[0].startswith("SRV_ERR diga qual analisador")

        assert "PM710" in node.ask("GETID", "1")[0] and "CVMK" in node.ask("IDENT", "2")[0]
        status = node.ask("GETSTATUS")
        assert [line.split("\t")[:3] for line in status] == [["1", "tesla-7-1", "STARTED"], ["2", "tesla-7-2", "STARTED"]]
        conf = node.ask("GETCONF")
        assert conf[0] == "node\t7\tOficina\tSa Pobla" and "tempslectura=0.3" in conf[1]
        defs = node.ask("GETDEFS")
        assert len(defs) == len(MEASUREMENT_CODES) and defs[0].split("\t") == ["TPF", "V", CODE_NAMES["TPF"]]

        assert node.ask("PAUSE", "1") == ["PAUSED"]
        assert node.ask("STATUS", "1")[0].startswith("PAUSED")
        assert node.agents[0].controls.paused and not node.agents[1].controls.paused
        assert node.ask("FORCEREQ", "1")[0].startswith("SRV_ERR pausado")
        assert node.ask("RESUME", "1") == ["RESUMED"]
        assert node.ask("START", "1") == ["ALLREADY START"]
        assert node.ask("PAUSE") == ["PAUSED"]
        assert all(a.controls.paused for a in node.agents)
        assert node.ask("START", "2") == ["START\tOK"]
        assert node.ask("STARTALL") == ["STARTING"]
        assert not any(a.controls.paused for a in node.agents)

        before = node.agents[1].node.health.last
        assert node.ask("FORCEREQ", "2") == ["FORCE REQUESTED"]
        wait_for(lambda: node.agents[1].node.health.last is not before, "forced read")

        assert node.ask("FLY") == ["NOT IMPLEMENTED"]
        assert node.ask("APPLY") == ["NOT IMPLEMENTED"] and node.ask("STATE") == ["NOT IMPLEMENTED"]
        assert ask(node.address, "QUIT").lines == ()
        assert node.ask("SHUTDOWN") == ["DONE"]
        node.thread.join(60)
        assert node.result == [0]
    finally:
        node.close()


def test_several_commands_on_one_connection_and_limits(tmp_path: Path, server: Server,
                                                       devices: tuple[int, str]) -> None:
    config = tmp_path / "config.xml"
    write_config(config, *devices)
    node = Node(tmp_path, server, config)
    try:
        wait_for(lambda: node.ask("STATUS", "1")[0].startswith("STARTED"), "agent running")
        host, port = node.control.address
        with socket.create_connection((host, port), timeout=10) as sock:
            # Pipelined: three commands in one packet, answered in order, one block among them.
            sock.sendall(b"STATUS 1\r\nGETDEFS\nbogus 1\nSTATUS 1 2\n")
            data = b""
            while not data.endswith(b"STATUS [analisador]\n"):
                chunk = sock.recv(65536)
                assert chunk, data
                data += chunk
        status, rest = data.split(b"\n", 1)
        defs, rest = rest.split(b"\n\n", 1)
        assert status.split(b"\t")[0] == b"STARTED"
        assert len(defs.split(b"\n")) == len(MEASUREMENT_CODES)
        assert rest == b"NOT IMPLEMENTED\nSRV_ERR argumentos demais: use STATUS [analisador]\n"
        # A line longer than the protocol allows ends the connection; the port keeps serving.
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(b"A" * 10_000)
            try:
                closed = sock.recv(100) == b""
            except ConnectionResetError:  # closed with our unread bytes still in its buffer
                closed = True
            assert closed
        assert node.ask("STATUS", "1")[0].startswith("STARTED")
    finally:
        node.close()


def test_reload_applies_a_changed_interval_and_codes_and_keeps_running_on_a_broken_file(
        tmp_path: Path, server: Server, devices: tuple[int, str]) -> None:
    config = tmp_path / "config.xml"
    write_config(config, *devices, interval=2.0)
    node = Node(tmp_path, server, config)
    try:
        wait_status(node, "1", "STARTED\tCOMM", "PM710 read")
        pm710 = node.agents[0]
        write_config(config, *devices, interval=0.2, codes=("TPF", "PAT"))
        assert node.ask("RELOAD") == ["RELOAD\tOK"]
        wait_for(lambda: pm710.config.intervalo_s == 0.2, "the new interval in the running agent")
        assert "tempslectura=0.2" in node.ask("GETCONF")[1] and "consultas=TPF,PAT" in node.ask("GETCONF")[1]
        # Reads now come every 0.2 s, with only the requested codes.
        first = pm710.node.health.last
        wait_for(lambda: pm710.node.health.last is not first and
                 {c for c, _ in pm710.node.health.last.medidas} == {"TPF", "PAT"}, "reads with the new codes", 10)
        seen = set()
        wait_for(lambda: (seen.add(pm710.node.health.last.ts_ms), len(seen) >= 5)[1], "five reads in ~1 s", 3)

        config.write_text(config.read_text("utf-8").replace("</equips>", "<equips>"), encoding="utf-8")
        answer = node.ask("RELOAD")
        assert answer[0].startswith("SRV_CONF_ERR\tconfig.xml, linha ") and "XML inválido" in answer[0]
        assert pm710.config.intervalo_s == 0.2 and node.ask("STATUS", "1") == ["STARTED\tCOMM"]

        write_config(config, *devices, interval=0.2, codes=("TPF", "PAT"))
        text = config.read_text("utf-8").replace(f"<tcpport>{devices[0]}</tcpport>", "<tcpport>1502</tcpport>")
        config.write_text(text, encoding="utf-8")
        assert node.ask("RELOAD") == ["RELOAD\tOK\tanalisador 1: reinicie para aplicar dispositivo"]
    finally:
        node.close()


def test_auto_start_no_starts_paused_until_start(tmp_path: Path, server: Server, devices: tuple[int, str]) -> None:
    config = tmp_path / "config.xml"
    write_config(config, *devices)
    node = Node(tmp_path, server, config, paused=True)
    try:
        wait_for(lambda: node.ask("STATUS", "1")[0].startswith("PAUSED"), "paused at start")
        assert node.ask("STATUS", "1") == ["PAUSED\tNOCOMM\tnenhuma leitura ainda"]
        assert node.ask("START", "1") == ["START\tOK"]
        wait_status(node, "1", "STARTED\tCOMM", "read after START")
    finally:
        node.close()


def _outside_address() -> str | None:
    """This machine's address on a network (not loopback), or None without one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only picks the outgoing interface
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_a_client_off_loopback_needs_the_key() -> None:
    outside = _outside_address()
    if outside is None:
        pytest.skip("esta máquina não tem endereço de rede além do loopback para testar um cliente de fora")
    with pytest.raises(ValueError):
        ControlServer("0.0.0.0", 0, lambda command: ["X"])
    guarded = ControlServer("0.0.0.0", 0, lambda command: [f"OK {command.verb}"], key="segredo-do-no").start()
    try:
        address = f"{outside}:{guarded.address[1]}"
        refused = ask(address, "STATUS")
        assert refused.failed and refused.lines[0].startswith("AUTH\tFAIL")
        with pytest.raises(NodeUnreachable, match="recusou a chave"):
            ask(address, "STATUS", key="errada")
        assert ask(address, "STATUS", key="segredo-do-no").lines == ("OK STATUS",)
        assert ask(f"127.0.0.1:{guarded.address[1]}", "STATUS").lines == ("OK STATUS",)
    finally:
        guarded.stop()


def test_protocol_pieces() -> None:
    assert parse_command("  getvars 2 \r").verb == "GETVARS"
    assert parse_command("") is None
    assert parse_command("STATUS 1 2").extra
    assert encode_answer(parse_command("GETVARS"), ["TPF\t1\t230.00\tV", ""]) == b"TPF\t1\t230.00\tV\n-\n\n"
    assert encode_answer(parse_command("STATUS"), ["a\nb"]) == b"a b\n"
    with pytest.raises(ValueError):
        request_line("STATUS", "1 2")
    reader = LineReader(max_line=8)
    assert reader.feed(b"AB\r\nC") == ["AB"] and reader.feed(b"D\n") == ["CD"]
    with pytest.raises(ProtocolError):
        reader.feed(b"123456789")
    answer = AnswerReader("GETDEFS")
    assert not answer.feed(b"A\nB\n") and answer.feed(b"\n") and answer.lines == ["A", "B"]
    assert set(CODE_NAMES) == set(MEASUREMENT_CODES)
