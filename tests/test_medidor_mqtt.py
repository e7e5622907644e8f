"""`medidor --fonte mqtt`: Tasmota and Shelly devices publishing to a real broker feed the agent,
and their readings reach a real server through the spool, exactly once."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import pytest

from medidor.config import MqttSettings
from medidor.mqtt_source import client_id
from shared.models import parse_timestamp_ms
from shared.mqtt_broker import Broker
from tests.conftest import REGISTRATION
from tests.medidor_harness import Running, Server, config, fill, server, tiny_disk, wait_for  # noqa: F401
from tests.mqtt_support import (Publisher, forget_session, make_certificates, own_broker, password_file,  # noqa: F401
                                system_broker, unique)
from tests.ports import reserved_port

SP = ZoneInfo("America/Sao_Paulo")


def tasmota(ts_ms: int, total_wh: float, power: float) -> bytes:
    """What a Tasmota plug publishes on tele/<topic>/SENSOR (its Time is local, without offset)."""
    local = datetime.fromtimestamp(ts_ms / 1000, SP).replace(tzinfo=None).isoformat(timespec="seconds")
    return json.dumps({"Time": local, "ENERGY": {"TotalStartTime": "2026-01-01T00:00:00", "Total": total_wh / 1000,
                                                 "Yesterday": 0.5, "Today": 0.1, "Power": power, "Factor": 0.9,
                                                 "Voltage": 221, "Current": round(power / 221, 3)}}).encode()


def shelly(total_wh: float, power: float) -> bytes:
    return json.dumps({"id": 0, "source": "timer", "output": True, "apower": power, "voltage": 127.2,
                       "current": round(power / 127.2, 3), "aenergy": {"total": total_wh, "by_minute": [0, 0, 0],
                                                                       "minute_ts": int(time.time())}}).encode()


def mqtt_config(tmp_path: Path, server: Server, host: str, port: int, meter_id: str, topic: str,
                formato: str = "auto", broker: Broker | None = None):
    return replace(config(tmp_path, server), medidor=meter_id, fonte="mqtt",
                   mqtt=MqttSettings(broker or Broker(host, port), topic, formato))


def energies(server: Server, meter_id: str) -> list[float]:
    return [r["energia_wh"] for r in server.readings(meter_id)]


def test_a_shelly_feeds_the_agent_and_a_message_without_a_reading_is_skipped(tmp_path: Path, server: Server,
                                                                            system_broker: tuple[str, int]):
    host, port = system_broker
    meter_id = unique("shelly")
    topic = f"{meter_id}/status/switch:0"
    agent = Running(mqtt_config(tmp_path, server, host, port, meter_id, topic))
    device = Publisher(host, port, unique("shelly-dispositivo"))
    try:
        wait_for(lambda: agent.agent.status.snapshot().dispositivo == "conectado", "agent subscribed")
        for i, total in enumerate((1000.0, 1002.5, 1005.0)):
            device.send(topic, shelly(total, 150 + i))
            if i == 1:
                device.send(topic, b'{"id": 0, "output": false}')  # a status without energy: skipped
        wait_for(lambda: len(server.readings(meter_id)) == 3, "3 readings on the server")
        readings = server.readings(meter_id)
        assert [r["energia_wh"] for r in readings] == [1000.0, 1002.5, 1005.0]
        assert [r["potencia_w"] for r in readings] == [150, 151, 152]
        assert readings[0]["TPF"] == 127.2 and readings[0]["IPF"] == round(150 / 127.2, 3)
        assert server.meter(meter_id)["categoria"] == "gridImport"
    finally:
        device.close()
        agent.stop()
        forget_session(host, port, client_id(meter_id))


def test_what_a_plug_publishes_while_the_agent_is_stopped_arrives_when_it_starts(tmp_path: Path, server: Server,
                                                                                system_broker: tuple[str, int]):
    host, port = system_broker
    meter_id = unique("tomada")
    topic = f"tele/{meter_id}/SENSOR"
    cfg = mqtt_config(tmp_path, server, host, port, meter_id, topic, "tasmota")
    device = Publisher(host, port, unique("tasmota"))
    start = (int(time.time()) - 600) * 1000
    try:
        agent = Running(cfg)
        wait_for(lambda: agent.agent.status.snapshot().dispositivo == "conectado", "agent subscribed")
        device.send(topic, tasmota(start, 5000, 100))
        wait_for(lambda: len(server.readings(meter_id)) == 1, "first reading")
        agent.stop()
        for i in range(1, 6):  # the persistent session keeps these for the stopped agent
            device.send(topic, tasmota(start + i * 10_000, 5000 + i, 100 + i))
        agent = Running(cfg)
        wait_for(lambda: len(server.readings(meter_id)) == 6, "the readings published while stopped")
        readings = server.readings(meter_id)
        assert [parse_timestamp_ms(r["ts"]) for r in readings] == [start + i * 10_000 for i in range(6)]
        assert [r["energia_wh"] for r in readings] == [5000 + i for i in range(6)]
        agent.stop()
    finally:
        device.close()
        forget_session(host, port, client_id(meter_id))


def test_a_message_the_plug_publishes_twice_is_counted_once(tmp_path: Path, server: Server,
                                                             system_broker: tuple[str, int]):
    host, port = system_broker
    meter_id = unique("tomada")
    topic = f"tele/{meter_id}/SENSOR"
    agent = Running(mqtt_config(tmp_path, server, host, port, meter_id, topic, "auto"))
    device = Publisher(host, port, unique("tasmota"))
    start = (int(time.time()) - 60) * 1000
    try:
        wait_for(lambda: agent.agent.status.snapshot().dispositivo == "conectado", "agent subscribed")
        # The second is what a plug sends again when the broker went down before acknowledging.
        for ts, wh in ((start, 100.0), (start, 100.0), (start + 10_000, 101.0), (start + 5_000, 100.5)):
            device.send(topic, tasmota(ts, wh, 50))
        device.send(topic, tasmota(start + 20_000, 102.0, 50))
        wait_for(lambda: len(server.readings(meter_id)) >= 3, "readings on the server")
        time.sleep(0.5)
        readings = server.readings(meter_id)
        assert [(parse_timestamp_ms(r["ts"]), r["energia_wh"]) for r in readings] == [
            (start, 100.0), (start + 10_000, 101.0), (start + 20_000, 102.0)]
    finally:
        device.close()
        agent.stop()
        forget_session(host, port, client_id(meter_id))


def test_on_a_full_disk_messages_wait_in_the_broker_and_arrive_once_it_frees(
        tmp_path: Path, server: Server, system_broker: tuple[str, int], tiny_disk: Callable[[int], Path]):
    host, port = system_broker
    meter_id = unique("tomada")
    topic = f"tele/{meter_id}/SENSOR"
    disk = tiny_disk(1024 * 1024)
    agent = Running(replace(mqtt_config(tmp_path, server, host, port, meter_id, topic), estado=disk / "agente"))
    device = Publisher(host, port, unique("tasmota"))
    start = (int(time.time()) - 900) * 1000  # Tasmota's Time has whole seconds: one a second
    try:
        wait_for(lambda: agent.agent.status.snapshot().dispositivo == "conectado", "agent subscribed")
        device.send(topic, tasmota(start, 100.0, 10))
        wait_for(lambda: len(server.readings(meter_id)) == 1, "first reading")
        server.stop()  # nothing acknowledged to give back: the disk stays full
        filler = fill(disk)
        sent = 1
        # The plug goes on publishing; the last page of the spool's file still takes a few.
        while not any("ERRO ao gravar no disco" in m for m in agent.messages):
            assert sent < 500, "the disk never filled"
            device.send(topic, tasmota(start + sent * 1000, 100.0 + sent, 10))
            sent += 1
            time.sleep(0.02)
        for extra in range(3):  # published while the disk is full: they wait in the broker
            device.send(topic, tasmota(start + sent * 1000, 100.0 + sent, 10))
            sent += 1
        filler.unlink()
        server.start()
        wait_for(lambda: len(server.readings(meter_id)) >= sent, "the readings that waited")
        time.sleep(0.5)
        assert [(parse_timestamp_ms(r["ts"]), r["energia_wh"]) for r in server.readings(meter_id)] == [
            (start + i * 1000, 100.0 + i) for i in range(sent)]
    finally:
        device.close()
        agent.stop()
        forget_session(host, port, client_id(meter_id))


def start_agent(server: Server, state: Path, broker_port: int, meter_id: str, topic: str,
                *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.Popen(
        [sys.executable, "-m", "medidor", "--id", meter_id, "--servidor", server.url, "--chave-registro",
         REGISTRATION, "--estado", str(state), "--sem-teclado", "--log-level", "INFO", "--fonte", "mqtt",
         "--broker", f"mqtt://127.0.0.1:{broker_port}", "--topico", topic, "--formato-mqtt", "tasmota", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**base, **(env or {})})


class Output:
    """An agent subprocess's output, read on a thread as it comes."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)

    def says(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))


# Five minutes of a plug publishing every second, played ten times faster than real time.
MINUTES = 5
PERIOD_S = 1
SPEED = 10


@pytest.mark.slow
def test_tasmota_readings_reach_the_server_exactly_once_across_a_broker_restart_and_an_agent_kill_9(
        tmp_path: Path, server: Server, own_broker: type) -> None:
    with reserved_port() as port:
        broker = own_broker(port).start()
        meter_id, topic = "tomada", "tele/tomada/SENSOR"
        state = tmp_path / "estado"
        agent = start_agent(server, state, port, meter_id, topic)
        output = Output(agent)
        outputs = [output]
        count = MINUTES * 60 // PERIOD_S
        # Whole seconds (Tasmota's Time has no fraction), the last one a few seconds ago.
        first = (int(time.time()) - count * PERIOD_S - 5) * 1000
        expected = {first + i * PERIOD_S * 1000: 10_000 + i * 2.5 for i in range(count)}
        published = [0]
        device = Publisher("127.0.0.1", port, "tasmota-tomada")

        def plug() -> None:
            for i, (ts, wh) in enumerate(expected.items()):
                device.send(topic, tasmota(ts, wh, 9000))
                published[0] = i + 1
                time.sleep(PERIOD_S / SPEED)

        publishing = threading.Thread(target=plug, name="tasmota")
        try:
            # Subscribed once: from then on the broker keeps the agent's messages in its session.
            wait_for(lambda: output.says("assinando tele/tomada/SENSOR"), "agent subscribed")
            publishing.start()
            wait_for(lambda: published[0] >= count // 4, "a quarter published", timeout=120)
            broker.restart()
            wait_for(lambda: published[0] >= count // 2, "half published", timeout=120)
            agent.send_signal(signal.SIGKILL)
            agent.wait(20)
            time.sleep(1)  # the plug goes on publishing; the broker keeps them for the agent's session
            agent = start_agent(server, state, port, meter_id, topic)
            output = Output(agent)
            outputs.append(output)
            publishing.join(180)
            assert not publishing.is_alive()
            try:
                wait_for(lambda: len(server.readings(meter_id)) >= count, f"{count} readings", timeout=120)
            except AssertionError:
                have = {parse_timestamp_ms(r["ts"]) for r in server.readings(meter_id)}
                missing = sorted((ts - first) // 1000 for ts in set(expected) - have)
                raise AssertionError(f"{len(have)} of {count} readings; missing (s after the first): {missing[:20]}")
            time.sleep(1)  # anything extra (a duplicate) would land now
            readings = server.readings(meter_id)
            got = {parse_timestamp_ms(r["ts"]): r["energia_wh"] for r in readings}
            assert len(readings) == count == len(got)
            assert got == expected
            repeats = sum("repetida" in line for each in outputs for line in each.lines)
            print(f"\n{count} readings over {MINUTES} simulated minutes, exactly once; the plug re-sent "
                  f"{device.sent_twice} messages after the broker restart; the agents dropped {repeats} "
                  "repeated deliveries")
        finally:
            device.close()
            if agent.poll() is None:
                agent.send_signal(signal.SIGTERM)
                agent.wait(30)
            for each in outputs:
                each.thread.join(10)
                logging.getLogger("test").info("agent output:\n%s", "".join(each.lines))
            broker.stop()


@pytest.mark.slow
def test_broker_login_and_tls_with_the_password_never_in_the_output(tmp_path: Path, server: Server,
                                                                    own_broker: type) -> None:
    secret = "s3nha-do-broker-NUNCA-no-log"
    ca, cert, key = make_certificates(tmp_path / "tls")
    with reserved_port() as port, reserved_port() as tls_port:
        broker = own_broker(port, password_file=password_file(tmp_path / "pw", "casa", secret),
                            tls=(cert, key, tls_port)).start()
        topic = "tele/segura/SENSOR"
        state = tmp_path / "estado"
        wrong = start_agent(server, state, port, "segura", topic, "--usuario-mqtt", "casa",
                            env={"MONITOR_MQTT_SENHA": "errada-" + secret})
        time.sleep(3)
        wrong.send_signal(signal.SIGTERM)
        refused, _ = wrong.communicate(timeout=30)
        assert "recusou" in refused and secret not in refused
        secret_file = tmp_path / "senha"
        secret_file.write_text(secret + "\n")
        agent = subprocess.Popen(
            [sys.executable, "-m", "medidor", "--id", "segura", "--servidor", server.url, "--chave-registro",
             REGISTRATION, "--estado", str(state), "--sem-teclado", "--log-level", "DEBUG", "--fonte", "mqtt",
             "--broker", f"mqtts://127.0.0.1:{tls_port}", "--topico", topic, "--usuario-mqtt", "casa",
             "--senha-mqtt-arquivo", str(secret_file), "--tls-ca", str(ca)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")})
        device = Publisher("127.0.0.1", tls_port, "segura-dispositivo",
                           login=Broker("127.0.0.1", tls_port, True, "casa", secret, ca))
        try:
            ts = (int(time.time()) - 60) * 1000
            wait_for(lambda: device.connected.is_set(), "device connected over TLS")
            deadline = time.monotonic() + 30
            while not server.readings("segura") and time.monotonic() < deadline:
                device.send(topic, tasmota(ts, 777, 12))
                ts += 1000
                time.sleep(0.5)
            assert server.readings("segura"), "no reading over TLS with a login"
        finally:
            device.close()
            agent.send_signal(signal.SIGTERM)
            output, _ = agent.communicate(timeout=30)
            broker.stop()
        assert secret not in output and "conectado a mqtts://127.0.0.1" in output
