"""`servidor --mqtt` and `medidor --fonte mqtt` from the command line: bad settings are refused
before anything starts, without echoing a secret; a real server publishes to a real broker."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests import server_process
from tests.conftest import Api
from tests.medidor_harness import wait_for
from tests.mqtt_support import system_broker, unique  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("args, said", [
    (["--mqtt", "mqtt://casa:segredo-xyz@127.0.0.1:1883"], "MONITOR_MQTT_SENHA"),
    (["--mqtt", "http://127.0.0.1:1883"], "mqtt://host:1883"),
    (["--mqtt", "mqtt://127.0.0.1", "--mqtt-base", "a/#"], "--mqtt-base"),
    (["--mqtt", "mqtt://127.0.0.1", "--tls-ca", "/nao/existe.pem"], "mqtts://"),
])
def test_servidor_refuses_bad_mqtt_settings_with_exit_2(tmp_path: Path, args: list[str], said: str):
    result = server_process.run_cli("--porta", "0", "--db", str(tmp_path / "db.json"), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert said in result.stderr and "segredo-xyz" not in result.stdout + result.stderr
    assert not (tmp_path / "db.json").exists()  # refused before the store (and its keys) is made


def test_medidor_refuses_a_wildcard_topic_and_a_missing_broker(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    for extra, said in ((["--broker", "mqtt://127.0.0.1", "--topico", "tele/+/SENSOR"], "um agente lê um aparelho"),
                        (["--topico", "tele/x/SENSOR"], "--broker")):
        result = subprocess.run([sys.executable, "-m", "medidor", "--id", "x", "--fonte", "mqtt", "--estado",
                                 str(tmp_path), *extra], capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 2 and said in result.stderr, result.stderr


def test_a_servidor_subprocess_publishes_discovery_and_says_offline_on_sigterm(tmp_path: Path,
                                                                              system_broker: tuple[str, int]):
    host, port = system_broker
    root = unique("teste-cli")
    seen: dict[str, bytes] = {}
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("ha"), clean_session=True)
    watcher.on_message = lambda client, userdata, message: seen.__setitem__(message.topic, message.payload)
    watcher.connect(host, port, 30)
    watcher.subscribe(f"{root}/#", 1)
    watcher.loop_start()
    server = server_process.start(tmp_path / "db.json", "--mqtt", f"mqtt://{host}:{port}",
                                  "--mqtt-prefixo", f"{root}/ha", "--mqtt-base", f"{root}/me")
    try:
        api = Api(server.port, server_process.ADMIN)
        assert api.post("/api/v1/medidores", {"id": "sala", "nome": "Sala"}).status == 201
        api.close()
        config = f"{root}/ha/sensor/monitor_energia_sala/energia/config"
        wait_for(lambda: config in seen, "discovery config of the new meter")
        assert json.loads(seen[config])["unit_of_measurement"] == "kWh"
        assert seen[f"{root}/me/status"] == b"online"
    finally:
        assert server.stop() == 0
    try:
        wait_for(lambda: seen.get(f"{root}/me/status") == b"offline", "offline on SIGTERM", timeout=10)
    finally:
        for topic, payload in list(seen.items()):
            if payload:
                watcher.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        watcher.disconnect()
        watcher.loop_stop()
