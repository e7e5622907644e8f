"""Home Assistant discovery: every payload checked against Home Assistant's documented schema, and
a live server publishing to a real broker (configs, state on ingest, deletion, availability)."""
from __future__ import annotations

import json
import threading
import time
from datetime import date
from typing import Any, Iterator

import paho.mqtt.client as mqtt
import pytest

from servidor.app import VERSION
from servidor.domain.meters import CATEGORIES, Meter
from servidor.mqtt import discovery
from servidor.mqtt.bridge import HomeAssistantBridge
from servidor.mqtt.discovery import Cost, Topics
from shared.models import Reading
from shared.mqtt_broker import Broker
from tests.conftest import Running, seeded  # noqa: F401 (fixture)
from tests.ha_discovery_schema import dashboard_errors, errors
from tests.medidor_harness import WAIT_S, wait_for
from tests.mqtt_support import system_broker, unique  # noqa: F401 (fixture)

TOPICS = Topics()
EXPECTED_ROLES = {  # our categories → the Energy dashboard slot a user puts the meter's counter in
    "gridImport": "grid_consumption", "gridCons": "grid_consumption", "gridNet": "grid_consumption",
    "gridSub": "device_consumption", "gridExport": "return_to_grid", "pvProd": "solar_production",
    "heatProd": "solar_production", "gridGas": "gas_consumption", "gridWater": "water_consumption",
}


@pytest.mark.parametrize("categoria", CATEGORIES)
def test_every_category_publishes_configs_home_assistant_accepts(categoria: str):
    meter = Meter("casa-1", "Casa", categoria=categoria)
    payloads = discovery.configs(meter, TOPICS, VERSION)
    for topic, payload in payloads.items():
        assert errors(topic, payload) == [], topic
        assert payload["state_topic"] == "monitor-energia/casa-1/estado"
        assert payload["availability_topic"] == "monitor-energia/status"
    energy = payloads["homeassistant/sensor/monitor_energia_casa-1/energia/config"]
    assert discovery.role_of(meter).papel == EXPECTED_ROLES[categoria]
    assert dashboard_errors(energy, EXPECTED_ROLES[categoria]) == []
    # A net meter's counter falls with export: `total`, or Home Assistant would take it for a reset.
    assert energy["state_class"] == ("total" if categoria == "gridNet" else "total_increasing")
    assert len({p["unique_id"] for p in payloads.values()}) == len(payloads)
    assert {tuple(p["device"]["identifiers"]) for p in payloads.values()} == {("monitor_energia_casa-1",)}


def test_the_entities_of_a_consuming_meter_and_of_a_producer():
    grid = discovery.configs(Meter("casa", "Casa"), TOPICS, VERSION)
    by_object = {topic.split("/")[-2]: payload for topic, payload in grid.items()}
    assert set(by_object) == {"energia", "potencia", "custo_ciclo", "alertas"}
    assert (by_object["energia"]["device_class"], by_object["energia"]["unit_of_measurement"]) == ("energy", "kWh")
    assert (by_object["potencia"]["device_class"], by_object["potencia"]["unit_of_measurement"],
            by_object["potencia"]["state_class"]) == ("power", "W", "measurement")
    assert (by_object["custo_ciclo"]["device_class"], by_object["custo_ciclo"]["unit_of_measurement"],
            by_object["custo_ciclo"]["state_class"]) == ("monetary", "BRL", "total")
    assert "homeassistant/binary_sensor/monitor_energia_casa/alertas/config" in grid
    solar = discovery.configs(Meter("telhado", "Telhado", categoria="pvProd"), TOPICS, VERSION)
    assert not any("custo_ciclo" in topic for topic in solar)  # a producer has no energy bill
    water = discovery.configs(Meter("agua", "Água", categoria="gridWater"), TOPICS, VERSION)
    assert {t.split("/")[-2] for t in water} == {"energia", "alertas"}  # no power in W for water


def test_a_two_counter_meter_also_gets_a_return_to_grid_counter():
    payloads = discovery.configs(Meter("rede", "Rede", categoria="gridNet"), TOPICS, VERSION, exported=True)
    returned = payloads["homeassistant/sensor/monitor_energia_rede/energia_devolvida/config"]
    assert errors("homeassistant/sensor/monitor_energia_rede/energia_devolvida/config", returned) == []
    assert dashboard_errors(returned, "return_to_grid") == []
    body = discovery.state(Meter("rede", "Rede", categoria="gridNet"), Reading(3, 1_764_500_000_000, 5000.0, None),
                           None, 0, exported=Reading(3, 1_764_500_000_000, 1234.5, None))
    assert (body["energia_kwh"], body["energia_devolvida_kwh"]) == (5.0, 1.234)


def test_ids_with_a_dot_become_valid_distinct_node_ids():
    assert discovery.node_id("a_b") != discovery.node_id("a.b")
    for meter_id in ("a.b", "x.y.z", "casa-1"):
        topic = TOPICS.config("sensor", meter_id, "energia")
        assert errors(topic, discovery.configs(Meter(meter_id, meter_id), TOPICS, VERSION)[topic]) == []
        assert TOPICS.node_of(topic) == discovery.node_id(meter_id)
    assert TOPICS.node_of("homeassistant/sensor/outra_coisa/energia/config") is None
    assert TOPICS.meter_of_state("monitor-energia/a.b/estado") == "a.b"
    assert TOPICS.meter_of_state("monitor-energia/status") is None
    assert TOPICS.meter_of_state("outro/a/estado") is None


def test_the_state_every_entity_reads():
    meter = Meter("casa", "Casa", fuso="America/Sao_Paulo")
    reading = Reading(7, 1_764_500_000_000, 12_345.6, -321.04)
    body = discovery.state(meter, reading, Cost(87.456, date(2026, 11, 1)), 2)
    assert body == {"medidor": "casa", "papel_energia": "grid_consumption", "ts": "2025-11-30T07:53:20-03:00",
                    "energia_kwh": 12.346, "potencia_w": -321.0, "alertas": "ON", "alertas_ativos": 2,
                    "custo_ciclo": 87.46, "inicio_ciclo": "2026-11-01T00:00:00-03:00"}
    empty = discovery.state(Meter("gas", "Gás", categoria="gridGas"), None, None, 0)
    assert empty["volume_m3"] is None and empty["alertas"] == "OFF" and "custo_ciclo" not in empty


class Subscriber:
    """What a Home Assistant sees: the retained and live messages under the test's topics."""

    def __init__(self, host: str, port: int, *filters: str) -> None:
        self.messages: dict[str, bytes] = {}
        self.history: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique("ha"), clean_session=True)
        self.client.on_message = self._on_message
        ready = threading.Event()
        # Subscribed from the CONNACK on, and ready at the SUBACK: on a loaded machine either may
        # take seconds.
        self.client.on_connect = lambda client, *_: client.subscribe([(f, 1) for f in filters])
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.connect_async(host, port, 30)
        self.client.loop_start()
        assert ready.wait(WAIT_S), "the broker did not confirm the subscription"

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self.lock:
            self.messages[message.topic] = message.payload
            self.history.append((message.topic, message.payload))

    def json(self, topic: str) -> Any:
        with self.lock:
            payload = self.messages.get(topic)
        return json.loads(payload) if payload else None

    def get(self, topic: str) -> bytes | None:
        with self.lock:
            return self.messages.get(topic)

    def clear_retained(self) -> None:
        """Leave nothing on the shared broker."""
        with self.lock:
            topics = [t for t, p in self.messages.items() if p]
        for topic in topics:
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def ha_topics() -> Topics:
    root = unique("teste-mqtt")
    return Topics(prefix=f"{root}/homeassistant", base=f"{root}/monitor-energia")


@pytest.fixture
def watcher(system_broker: tuple[str, int], ha_topics: Topics) -> Iterator[Subscriber]:
    host, port = system_broker
    subscriber = Subscriber(host, port, f"{ha_topics.prefix}/#", f"{ha_topics.base}/#")
    yield subscriber
    subscriber.clear_retained()


def test_a_server_shows_up_in_home_assistant_and_keeps_it_current(seeded: Running, system_broker: tuple[str, int],
                                                                   ha_topics: Topics, watcher: Subscriber):
    host, port = system_broker
    # A config this suite left for a meter deleted while the server was down.
    ghost = f"{ha_topics.prefix}/sensor/monitor_energia_fantasma/energia/config"
    watcher.client.publish(ghost, b'{"state_topic": "x"}', qos=1, retain=True).wait_for_publish(5)
    ghost_state = ha_topics.state("fantasma")
    watcher.client.publish(ghost_state, b'{"energia_kwh": 1}', qos=1, retain=True).wait_for_publish(5)
    write_key, _ = seeded.create_meter("tomada", nome="Tomada da geladeira")
    seeded.create_meter("telhado", nome="Telhado", categoria="pvProd")
    bridge = HomeAssistantBridge(seeded.app.services, Broker(host, port), ha_topics, VERSION)
    bridge.start()
    try:
        wait_for(lambda: watcher.get(ha_topics.availability) == b"online", "availability online")
        wait_for(lambda: watcher.json(ha_topics.state("casa-silva")) is not None, "state of a seeded meter")
        wait_for(lambda: watcher.get(ghost) == b"" and watcher.get(ghost_state) == b"", "the stale topics cleared")
        for meter_id in ("casa-silva", "padaria-sol", "escola-norte", "tomada", "telhado"):
            configs = {t: watcher.json(t) for t in ha_topics.all_configs(meter_id) if watcher.json(t)}
            assert configs, meter_id
            for topic, payload in configs.items():
                assert errors(topic, payload) == [], (topic, errors(topic, payload))
        state = watcher.json(ha_topics.state("casa-silva"))
        assert state["energia_kwh"] > 0 and state["alertas"] in ("ON", "OFF")
        assert isinstance(state["custo_ciclo"], float) and state["inicio_ciclo"].endswith("-03:00")
        assert watcher.json(ha_topics.config("sensor", "telhado", "energia"))["name"] == "Energia produzida (solar)"

        api = seeded.client(write_key)
        reply = api.post("/api/v1/medidores/tomada/leituras",
                         {"seq": 1, "ts": int(time.time() * 1000) - 1000, "energia_wh": 4321.0, "potencia_w": 87.5})
        api.close()
        assert reply.status == 200, reply.body
        wait_for(lambda: (watcher.json(ha_topics.state("tomada")) or {}).get("energia_kwh") == 4.321,
                 "state updated on ingest", timeout=10)
        assert watcher.json(ha_topics.state("tomada"))["potencia_w"] == 87.5

        net_key, _ = seeded.create_meter("rede", nome="Medidor bidirecional", categoria="gridNet")
        api = seeded.client(net_key)
        reply = api.post("/api/v1/medidores/rede/leituras", {"seq": 1, "ts": int(time.time() * 1000) - 1000,
                                                              "energia_importada_wh": 5000.0,
                                                              "energia_exportada_wh": 1250.0})
        api.close()
        assert reply.status == 200, reply.body
        returned = ha_topics.config("sensor", "rede", "energia_devolvida")
        wait_for(lambda: watcher.json(returned) is not None, "the return-to-grid entity of a two-counter meter")
        assert errors(returned, watcher.json(returned)) == []
        wait_for(lambda: (watcher.json(ha_topics.state("rede")) or {}).get("energia_devolvida_kwh") == 1.25,
                 "the exported counter in the state")

        assert seeded.admin.delete("/api/v1/medidores/telhado").status in (200, 204)
        wait_for(lambda: all(watcher.get(t) in (None, b"") for t in ha_topics.all_configs("telhado"))
                 and watcher.get(ha_topics.config("sensor", "telhado", "energia")) == b"", "deleted meter removed")
    finally:
        bridge.stop()
    wait_for(lambda: watcher.get(ha_topics.availability) == b"offline", "offline after stop")


def test_the_last_will_says_offline_when_the_server_dies(seeded: Running, system_broker: tuple[str, int],
                                                         ha_topics: Topics, watcher: Subscriber):
    host, port = system_broker
    bridge = HomeAssistantBridge(seeded.app.services, Broker(host, port), ha_topics, VERSION)
    bridge.start()
    try:
        wait_for(lambda: watcher.get(ha_topics.availability) == b"online", "availability online")
        # A crash: the connection drops without a DISCONNECT, and the broker sends the will.
        bridge._client.socket().close()
        wait_for(lambda: watcher.get(ha_topics.availability) == b"offline", "last will", timeout=15)
        wait_for(lambda: watcher.get(ha_topics.availability) == b"online", "back online after reconnecting",
                 timeout=15)
    finally:
        bridge.stop()


def test_home_assistant_restarting_gets_every_config_again(seeded: Running, system_broker: tuple[str, int],
                                                           ha_topics: Topics, watcher: Subscriber):
    host, port = system_broker
    bridge = HomeAssistantBridge(seeded.app.services, Broker(host, port), ha_topics, VERSION)
    bridge.start()
    try:
        energy = ha_topics.config("sensor", "casa-silva", "energia")
        wait_for(lambda: watcher.get(energy), "config sent")
        before = sum(1 for t, _ in watcher.history if t == energy)
        watcher.client.publish(ha_topics.ha_status, b"online", qos=1).wait_for_publish(5)
        wait_for(lambda: sum(1 for t, _ in watcher.history if t == energy) > before, "config sent again")
    finally:
        bridge.stop()


def test_changing_a_meters_category_replaces_its_entities(seeded: Running, system_broker: tuple[str, int],
                                                          ha_topics: Topics, watcher: Subscriber):
    host, port = system_broker
    seeded.create_meter("medidor-x", nome="X")
    bridge = HomeAssistantBridge(seeded.app.services, Broker(host, port), ha_topics, VERSION)
    bridge.start()
    try:
        cost = ha_topics.config("sensor", "medidor-x", "custo_ciclo")
        wait_for(lambda: watcher.get(cost), "cost entity of a consuming meter")
        reply = seeded.admin.put("/api/v1/medidores/medidor-x", {"nome": "X", "categoria": "gridExport"})
        assert reply.status == 200, reply.body
        wait_for(lambda: watcher.get(cost) == b"", "cost entity removed: an export meter has no bill")
        energy = watcher.json(ha_topics.config("sensor", "medidor-x", "energia"))
        assert energy["name"] == "Energia devolvida à rede"
    finally:
        bridge.stop()

