"""`make demo MQTT=mqtt://127.0.0.1:1883`: a Tasmota plug over MQTT feeds the suite and every meter
shows up for Home Assistant; quitting says `offline` and leaves nothing running."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from demo.suite import MQTT_METER
from medidor.mqtt_source import client_id
from tests.conftest import Api
from tests.medidor_harness import wait_for
from tests.mqtt_support import forget_session, system_broker, unique  # noqa: F401 (fixture)
from tests.test_demo import ROOT, SERVER_URL, demo_env, processes_in

pytestmark = pytest.mark.slow


def test_demo_with_a_broker_shows_the_tasmota_plug_and_home_assistant(tmp_path, system_broker: tuple[str, int]):
    host, port = system_broker
    root = unique("teste-demo")
    seen: dict[str, bytes] = {}
    lock = threading.Lock()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        with lock:
            seen[message.topic] = message.payload

    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("ha"), clean_session=True)
    watcher.on_message = on_message
    watcher.connect(host, port, 30)
    watcher.subscribe(f"{root}/#", 1)
    watcher.loop_start()
    # The server reads these from the environment: the test's own topics, not the real ones.
    env = {**demo_env(tmp_path), "MONITOR_MQTT_PREFIXO": f"{root}/homeassistant",
           "MONITOR_MQTT_BASE": f"{root}/monitor-energia"}
    demo = subprocess.Popen([sys.executable, "-m", "demo", "--sem-app", "--mqtt", f"mqtt://{host}:{port}"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    state = f"{root}/monitor-energia/{MQTT_METER}/estado"
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            found = SERVER_URL.search(line)
            if found:
                server_port = int(found.group(1))
                break
        else:
            raise AssertionError("the demo did not start")

        def plug_readings() -> int:
            reply = Api(server_port, "demo-admin").get(f"/api/v1/medidores/{MQTT_METER}")
            return reply.json["resumo"]["leituras"] if reply.status == 200 else 0

        wait_for(lambda: plug_readings() >= 1, "a reading of the Tasmota plug through the broker", timeout=90)
        wait_for(lambda: json.loads(seen.get(state) or b"{}").get("energia_kwh") is not None,
                 "the plug's state for Home Assistant", timeout=30)
        for meter in ("casa", "loja", "solar", "quadro", MQTT_METER, "casa-silva"):
            assert seen.get(f"{root}/homeassistant/sensor/monitor_energia_{meter}/energia/config"), meter
        assert seen[f"{root}/monitor-energia/status"] == b"online"
    finally:
        demo.send_signal(signal.SIGTERM)
        out, _ = demo.communicate(timeout=60)
        try:
            wait_for(lambda: seen.get(f"{root}/monitor-energia/status") == b"offline", "offline", timeout=10)
        finally:
            for topic, payload in list(seen.items()):
                if payload:
                    watcher.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
            watcher.disconnect()
            watcher.loop_stop()
            forget_session(host, port, client_id(MQTT_METER))
    assert demo.returncode == 0, out
    assert processes_in(tmp_path / "demo") == {}
