"""The server's meters in Home Assistant, through an MQTT broker (`servidor --mqtt mqtt://…`).

What is published (payloads in servidor/mqtt/discovery.py), all retained with QoS 1:
- on connecting, and whenever Home Assistant says it (re)started (`<prefix>/status` = online):
  `online` on the availability topic (the last will says `offline`), every meter's discovery
  configs and state;
- on ingest, the meter's state (counter, power, alerts; the cycle's cost at most every
  COST_EVERY_S); alerts that open or close without a reading (silence) within POLL_S;
- a meter created, changed or deleted is noticed within POLL_S: configs sent, re-sent, or
  cleared (an empty retained config removes the entity from Home Assistant). Configs this suite
  left for meters that no longer exist (deleted while the server was down) are cleared when the
  broker hands them back on subscription.

Threads: the bridge's own thread does all the work (reads the services, publishes); paho's
network thread (started by `loop_start`, joined by `stop`) and the live hub only queue events.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from typing import Any, Callable, Sequence

import paho.mqtt.client as mqtt

from servidor.domain.categories import export_stream
from servidor.domain.errors import DomainError
from servidor.domain.live import MAX_WAIT_S
from servidor.domain.meters import Meter
from servidor.domain.services import Services
from servidor.mqtt import discovery
from servidor.mqtt.discovery import Cost, Topics
from shared.models import Reading
from shared.mqtt_broker import Broker

log = logging.getLogger("servidor.mqtt")

# Meters created, changed or deleted, and alerts opened by the housekeeping (silence), are seen
# this often: the registry and the alert counts are in memory, so a poll costs microseconds.
POLL_S = 2.0
# The cycle's cost is an invoice computed from the cycle's readings: at most once a minute per
# meter, though readings come every few seconds (a cost in BRL hardly moves in a minute).
COST_EVERY_S = 60.0
KEEPALIVE_S = 30
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
# How long `stop` waits for the broker to take the `offline` message before disconnecting.
STOP_PUBLISH_TIMEOUT_S = 2.0
QOS = 1


class HomeAssistantBridge:
    def __init__(self, services: Services, broker: Broker, topics: Topics, version: str,
                 clock: Callable[[], float] = time.time) -> None:
        self._services = services
        self._broker = broker
        self._topics = topics
        self._version = version
        self._clock = clock
        self._cond = threading.Condition()
        self._stopping = False
        self._connected = False
        self._resend = False
        self._dirty: set[str] = set()      # meters whose state changed
        self._rearm: set[str] = set()      # meters whose live wait was answered
        self._stale: set[str] = set()      # retained config topics seen on the broker
        # The bridge thread's own view (touched only there).
        self._meters: dict[str, Meter] = {}
        self._alerts: dict[str, int] = {}
        self._costs: dict[str, tuple[float, Cost | None]] = {}
        self._exported: set[str] = set()  # meters that send an exported-energy counter
        self._thread = threading.Thread(target=self._run, name="mqtt-home-assistant", daemon=True)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"monitor-servidor-{topics.base}",
                             clean_session=True, protocol=mqtt.MQTTv311)
        broker.configure(client)
        client.enable_logger(logging.getLogger("servidor.mqtt.paho"))
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.will_set(topics.availability, discovery.OFFLINE, qos=QOS, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        log.info("publicando os medidores para o Home Assistant em %s (descoberta: %s/…, estado: %s/…)",
                 self._broker.address, self._topics.prefix, self._topics.base)
        self._client.connect_async(self._broker.host, self._broker.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        """Say `offline`, disconnect, and join both threads."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        if self._connected:
            info = self._client.publish(self._topics.availability, discovery.OFFLINE, qos=QOS, retain=True)
            try:
                info.wait_for_publish(STOP_PUBLISH_TIMEOUT_S)
            except (RuntimeError, ValueError):
                log.warning("mqtt: o broker não confirmou o aviso de offline; vale o testamento (last will)")
        self._client.disconnect()
        self._client.loop_stop()

    # -- paho's thread and the live hub: only queue ---------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("mqtt: %s recusou a conexão: %s", self._broker.address, reason)
            return
        log.info("mqtt: conectado a %s", self._broker.address)
        client.subscribe([(self._topics.our_configs, QOS), (self._topics.our_states, QOS),
                          (self._topics.ha_status, QOS)])
        with self._cond:
            self._connected = True
            self._resend = True
            self._cond.notify_all()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with self._cond:
            self._connected = False
        if not self._stopping:
            log.warning("mqtt: desconectado de %s (%s); reconectando", self._broker.address, reason)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if message.topic == self._topics.ha_status:
            if message.payload == discovery.ONLINE.encode():
                with self._cond:
                    self._resend = True
                    self._cond.notify_all()
            return
        ours = self._topics.node_of(message.topic) or self._topics.meter_of_state(message.topic)
        if message.retain and message.payload and ours is not None:
            with self._cond:
                self._stale.add(message.topic)
                self._cond.notify_all()

    def _delivered(self, meter_id: str, readings: Sequence[Reading] | None) -> None:
        with self._cond:
            if readings:
                self._dirty.add(meter_id)
            self._rearm.add(meter_id)
            self._cond.notify_all()

    # -- the bridge's thread ----------------------------------------------------------------------

    def _run(self) -> None:
        next_poll = 0.0
        while True:
            with self._cond:
                if not self._stopping and not (self._dirty or self._rearm or self._stale or self._resend):
                    self._cond.wait(max(0.0, next_poll - time.monotonic()))
                if self._stopping:
                    return
                dirty, self._dirty = self._dirty, set()
                rearm, self._rearm = self._rearm, set()
                stale, self._stale = self._stale, set()
                resend, self._resend = self._resend, False
                connected = self._connected
            try:
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + POLL_S
                    dirty |= self._poll()
                if resend and connected:
                    self._publish(self._topics.availability, discovery.ONLINE)
                    for meter in self._meters.values():
                        self._send_configs(meter)
                    dirty |= set(self._meters)
                for meter_id in sorted(rearm):
                    if meter_id in self._meters:
                        self._arm(self._meters[meter_id])
                for topic in sorted(stale):
                    self._clear_stale(topic)
                for meter_id in sorted(dirty):
                    if meter_id in self._meters:
                        self._send_state_of(self._meters[meter_id])
            except Exception:
                # A failing read (a store error) must not end the bridge: the next event retries.
                log.exception("mqtt: falha ao publicar o estado dos medidores")

    def _poll(self) -> set[str]:
        """Meters created, changed, deleted since the last poll; alert counts that changed."""
        now = {m.id: m for m in self._services.meters.all()}
        dirty: set[str] = set()
        for meter_id, old in list(self._meters.items()):
            if meter_id not in now or now[meter_id].geracao != old.geracao:
                self._forget(old)
        for meter_id, meter in now.items():
            old = self._meters.get(meter_id)
            if old == meter:
                continue
            self._meters[meter_id] = meter
            self._costs.pop(meter_id, None)
            self._send_configs(meter, before=old)
            if old is None:
                self._arm(meter)
            dirty.add(meter_id)
        for meter_id in self._meters:
            count = self._services.alerts.count_active(meter_id)
            if self._alerts.get(meter_id) != count:
                self._alerts[meter_id] = count
                dirty.add(meter_id)
        return dirty

    def _forget(self, meter: Meter) -> None:
        log.info("mqtt: medidor %s apagado: removido do Home Assistant", meter.id)
        for topic in discovery.removed_configs(meter.id, self._topics):
            self._publish(topic, "")
        self._publish(self._topics.state(meter.id), "")
        self._meters.pop(meter.id, None)
        self._alerts.pop(meter.id, None)
        self._costs.pop(meter.id, None)
        self._exported.discard(meter.id)

    def _arm(self, meter: Meter) -> None:
        after = self._services.history.last_seq(meter)
        self._services.live.wait(meter.stream, after, MAX_WAIT_S,
                                 lambda readings, meter_id=meter.id: self._delivered(meter_id, readings))

    def _send_configs(self, meter: Meter, before: Meter | None = None) -> None:
        payloads = discovery.configs(meter, self._topics, self._version, meter.id in self._exported)
        if before is not None:
            for topic in discovery.removed_configs(meter.id, self._topics, kept=payloads):
                self._publish(topic, "")
        for topic, payload in payloads.items():
            self._publish(topic, json.dumps(payload, ensure_ascii=False, sort_keys=True))

    def _clear_stale(self, topic: str) -> None:
        """A retained config or state the broker kept for a meter that no longer exists (deleted
        while the server was down or disconnected) is cleared."""
        node, meter_id = self._topics.node_of(topic), self._topics.meter_of_state(topic)
        if meter_id in self._meters or node in {discovery.node_id(m) for m in self._meters}:
            return
        log.info("mqtt: tópico retido de um medidor que não existe mais removido: %s", topic)
        self._publish(topic, "")

    def _send_state_of(self, meter: Meter) -> None:
        try:
            self._send_state(meter)
        except Exception:
            # One meter's failing read (its stream deleted meanwhile, a store error) must not hold
            # back the others; its next reading tries again.
            log.exception("mqtt: falha ao publicar o estado de %s", meter.id)

    def _send_state(self, meter: Meter) -> None:
        history = self._services.history
        seq = history.last_seq(meter)
        found = history.after(meter, seq - 1, 1) if seq >= 0 else []
        last = found[-1] if found else None
        # A two-counter meter's exported counter has the same seq as the imported one.
        exported = history.after_stream(export_stream(meter), seq - 1)[:1] if seq >= 0 else []
        if exported and meter.id not in self._exported:
            self._exported.add(meter.id)
            self._send_configs(meter)  # its return-to-grid entity appears with its first such reading
        body = discovery.state(meter, last, self._cost(meter), self._alerts.get(meter.id, 0),
                               exported[0] if exported else None)
        self._publish(self._topics.state(meter.id), json.dumps(body, ensure_ascii=False, sort_keys=True))

    def _cost(self, meter: Meter) -> Cost | None:
        if not discovery.billed(meter):
            return None
        cached = self._costs.get(meter.id)
        if cached is not None and time.monotonic() - cached[0] < COST_EVERY_S:
            return cached[1]
        now_ms = int(self._clock() * 1000)
        today = datetime.fromtimestamp(now_ms / 1000, meter.tz).date()
        try:
            invoice = self._services.invoices.for_cycle(meter, today.isoformat(), now_ms)
            cost: Cost | None = Cost(float(invoice["total"]),
                                     datetime.fromisoformat(invoice["ciclo"]["primeiro_dia"]).date())
        except DomainError as exc:
            # No tariff in force for this cycle, say: the entity shows "unknown", the log says why.
            log.info("mqtt: custo do ciclo de %s indisponível: %s", meter.id, exc)
            cost = None
        self._costs[meter.id] = (time.monotonic(), cost)
        return cost

    def _publish(self, topic: str, payload: str) -> None:
        """Retained, QoS 1. Skipped while disconnected: the next connection sends everything."""
        if self._connected:
            self._client.publish(topic, payload.encode("utf-8"), qos=QOS, retain=True)
