"""Brokers and devices for the MQTT tests, all real: the machine's Mosquitto at 127.0.0.1:1883,
or one of our own (the `mosquitto` binary, on a reserved port, with persistence, a password file
or TLS) that a test can restart; simulated Tasmota and Shelly devices publishing with paho.

No broker → the test is skipped saying so; under CI (CI=true) it fails instead, since CI must
run it."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import paho.mqtt.client as mqtt
import pytest

from shared.mqtt_broker import Broker

SYSTEM_HOST = "127.0.0.1"
SYSTEM_PORT = 1883
# An MQTT 3.1.1 CONNECT (clean session, empty client id, keepalive 60) and the CONNACK that accepts it.
_CONNECT = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"
_CONNACK_OK = b"\x20\x02\x00\x00"
START_TIMEOUT_S = 15.0


def missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: este teste precisa rodar)")
    pytest.skip(reason)


def answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """An MQTT broker accepts an anonymous connection there."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(_CONNECT)
            return sock.recv(4) == _CONNACK_OK
    except OSError:
        return False


@pytest.fixture
def system_broker() -> tuple[str, int]:
    if not answers(SYSTEM_HOST, SYSTEM_PORT):
        missing(f"nenhum broker MQTT responde em {SYSTEM_HOST}:{SYSTEM_PORT} (Mosquitto)")
    return SYSTEM_HOST, SYSTEM_PORT


def unique(prefix: str) -> str:
    """Names on the shared broker that no other test (or other checkout) uses at the same time."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def forget_session(host: str, port: int, client_id: str) -> None:
    """Drop a persistent session a test left on a shared broker (connect clean, disconnect)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    try:
        client.connect(host, port, 10)
        client.loop_start()
        client.disconnect()
        client.loop_stop()
    except OSError:
        pass


class OwnBroker:
    """A `mosquitto` subprocess of the test's own: restartable, persistent, optionally with a
    password file and/or a TLS listener."""

    def __init__(self, directory: Path, port: int, *, password_file: Path | None = None,
                 tls: tuple[Path, Path, int] | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.tls_port = tls[2] if tls else None
        self.config = directory / "mosquitto.conf"
        lines = ["persistence true", f"persistence_location {directory}/", "log_dest stdout",
                 # As root Mosquitto would switch to the `mosquitto` user, who cannot read tmp_path.
                 *(["user root"] if os.geteuid() == 0 else []),
                 "per_listener_settings false", f"listener {port} 127.0.0.1"]
        if tls is not None:
            cert, key, tls_port = tls
            lines += [f"listener {tls_port} 127.0.0.1", f"certfile {cert}", f"keyfile {key}"]
        if password_file is not None:
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines += ["allow_anonymous true"]
        self.config.write_text("\n".join(lines) + "\n")
        self.log = directory / "mosquitto.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "OwnBroker":
        log = open(self.log, "a")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"mosquitto terminou ao iniciar: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("mosquitto não começou a escutar")

    def stop(self) -> None:
        """SIGTERM: Mosquitto writes its persistence file (sessions, queued messages) and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[type[OwnBroker]]:
    """A factory of OwnBroker under tmp_path; every broker made is stopped after the test."""
    if shutil.which("mosquitto") is None:
        missing("o binário mosquitto não está instalado (apt-get install mosquitto)")
    made: list[OwnBroker] = []

    class Made(OwnBroker):
        def __init__(self, port: int, **options) -> None:  # type: ignore[no-untyped-def]
            super().__init__(tmp_path / f"broker{len(made)}", port, **options)
            made.append(self)

    yield Made  # type: ignore[misc]
    for broker in made:
        broker.stop()


class Publisher:
    """A device publishing with QoS 1 and a persistent session, as a Tasmota plug does; `send`
    returns once the broker acknowledged, re-publishing after a reconnection (so the broker may
    get a message twice, as from a real plug)."""

    def __init__(self, host: str, port: int, client_id: str, login: Broker | None = None) -> None:
        self.connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        if login is not None:
            login.configure(self.client)  # user, password, TLS: as the agent does
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_connect = lambda *a: self.connected.set()
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.connect_async(host, port, 30)
        self.client.loop_start()
        self.sent_twice = 0

    def send(self, topic: str, payload: bytes, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        attempts = 0
        while time.monotonic() < deadline:
            if not self.connected.wait(0.5):
                continue
            attempts += 1
            info = self.client.publish(topic, payload, qos=1)
            try:
                info.wait_for_publish(3)
            except (RuntimeError, ValueError):
                pass
            if info.is_published():
                self.sent_twice += attempts > 1
                return
        raise AssertionError(f"the broker never acknowledged {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a broker certificate for 127.0.0.1 signed by it (openssl): (ca, cert, key)."""
    if shutil.which("openssl") is None:
        missing("o openssl não está instalado: sem ele não há certificados para o broker TLS")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "broker.key", "broker.csr", "broker.pem"))
    ext = directory / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", "/CN=monitor-energia teste CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(cert),
        "-days", "2", "-extfile", str(ext))
    return ca, cert, key


def password_file(directory: Path, user: str, password: str) -> Path:
    if shutil.which("mosquitto_passwd") is None:
        missing("o mosquitto_passwd não está instalado")
    path = directory / "senhas"
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(path), user, password], check=True, capture_output=True)
    path.chmod(0o600)
    return path
