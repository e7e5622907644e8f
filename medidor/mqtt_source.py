"""A meter that publishes to an MQTT broker (Tasmota, Shelly, our plain JSON): a source that
delivers readings as they arrive instead of being read on a clock.

Nothing received is lost and nothing is counted twice:
- QoS 1 and a persistent session (clean_session=False, a client id fixed by the meter id): what
  the plug publishes while the agent is down waits in the broker and arrives on reconnection;
- manual acknowledgement: a message is acknowledged (PUBACK) only after its reading is in the
  spool with fsync (`confirm`), so a crash before that leaves it with the broker to deliver
  again;
- a message delivered again (a crash after the fsync and before the PUBACK; a plug that
  published twice because the broker went down before answering it) is recognised: a message
  stamped by the device (Tasmota's Time, our `ts`) at or before the newest spooled reading is a
  repeat; one without a device time is a repeat when the broker marks it as redelivered (DUP)
  and its counter equals the newest spooled one (dropping it loses no energy either way).

Threads: paho's network thread (started by `loop_start`, stopped and joined by `close`) only
parses and queues; the agent's thread takes, spools and confirms.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt

from shared.models import MAX_FUTURE_SKEW_MS
from medidor.config import AgentConfig
from medidor.mqtt_payloads import DeviceReading, PayloadError, parse
from medidor.resume import LastReading
from medidor.sources import Measurement

log = logging.getLogger("medidor.mqtt")

# The broker is asked for a ping this often; a dead connection is noticed within 1.5 times it.
KEEPALIVE_S = 30
# Reconnection waits: 1 s doubling to 30 s, so a broker restart is caught within seconds.
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
# Invalid messages are logged the first time and then once every this many, not each one.
LOG_INVALID_EVERY = 100


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message taken from the broker: its reading (None: nothing to record) and what
    acknowledges it."""

    mid: int
    qos: int
    measurement: Measurement | None
    connection: int  # which connection it came on: a packet id means something only on that one


@dataclass(frozen=True, slots=True)
class _Message:
    mid: int
    qos: int
    connection: int
    dup: bool
    received_ms: int
    reading: DeviceReading | None


class Sequencer:
    """Which messages become readings, and stamped when (no I/O): a repeat gives None, and the
    instants only go forward. Starts from the newest spooled reading, so a restarted agent
    recognises what the broker delivers again."""

    def __init__(self, meter_id: str, last: LastReading | None) -> None:
        self._meter = meter_id
        self._last_ts = last.ts_ms if last is not None else None
        self._last_wh = last.energia_wh if last is not None else None
        self.repeats = 0

    def reading(self, reading: DeviceReading, received_ms: int, dup: bool) -> Measurement | None:
        ts = reading.ts_ms
        if ts is not None and ts > received_ms + MAX_FUTURE_SKEW_MS:
            log.warning("%s: o relógio do aparelho está adiantado (%d s); usando a hora de chegada",
                        self._meter, (ts - received_ms) // 1000)
            ts = None
        if ts is not None:
            if self._last_ts is not None and ts <= self._last_ts:
                return self._repeat()
        else:
            if dup and self._last_wh is not None and reading.energia_wh == self._last_wh:
                return self._repeat()
            # Strictly after the previous reading, so arrival order is the readings' order.
            ts = received_ms if self._last_ts is None else max(received_ms, self._last_ts + 1)
        self._last_ts, self._last_wh = ts, reading.energia_wh
        return Measurement(ts, reading.energia_wh, reading.potencia_w, reading.medidas)

    def _repeat(self) -> None:
        self.repeats += 1
        log.info("%s: mensagem repetida ou fora de ordem descartada (%d até agora)", self._meter, self.repeats)
        return None


def client_id(meter_id: str) -> str:
    """Fixed per meter: the broker keeps the session (subscription and queued messages) under it."""
    return f"monitor-medidor-{meter_id}"


class MqttSource:
    """Readings published to one topic. `take` hands over what arrived; `confirm` acknowledges it."""

    replayable = False
    push = True

    def __init__(self, config: AgentConfig, last: LastReading | None, *,
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        settings = config.mqtt
        assert settings is not None
        self._settings = settings
        self._meter = config.medidor
        self._tz = ZoneInfo(config.fuso)
        self._now_ms = now_ms
        self.description = f"mqtt {settings.topico}"
        self.multiplier = config.multiplicador
        self._sequencer = Sequencer(config.medidor, last)
        self._arrived: deque[_Message] = deque()
        self._lock = threading.Condition()
        self._invalid = 0
        self._closing = False
        self._connection = 0
        self.state = f"conectando a {settings.broker.address}"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id(config.medidor),
                             clean_session=False, protocol=mqtt.MQTTv311, manual_ack=True)
        settings.broker.configure(client)
        client.enable_logger(logging.getLogger("medidor.mqtt.paho"))
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._client = client
        client.connect_async(settings.broker.host, settings.broker.port, keepalive=KEEPALIVE_S)
        client.loop_start()

    # -- paho's thread ------------------------------------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            state = f"broker recusou a conexão: {reason}"
            if state != self.state:  # paho retries every ≤ 30 s: said once, shown on the status line
                log.warning("%s: %s recusou a conexão: %s (usuário e senha? veja --usuario-mqtt)", self._meter,
                            self._settings.broker.address, reason)
            self.state = state
            return
        with self._lock:
            self._connection += 1
        # Subscribed on every connection: a broker that lost its sessions (no persistence) has
        # forgotten the subscription; one that kept it just confirms it.
        client.subscribe(self._settings.topico, qos=1)
        self.state = "assinando"
        log.info("%s: conectado a %s (sessão %s)", self._meter, self._settings.broker.address,
                 "retomada" if flags.session_present else "nova")

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        # The subscription holds from the SUBACK on: only then does the broker keep what the
        # device publishes for this session.
        if any(reason.is_failure for reason in reasons):
            self.state = f"o broker recusou a assinatura de {self._settings.topico} (permissão?)"
            log.warning("%s: %s", self._meter, self.state)
            return
        self.state = "conectado"
        log.info("%s: assinando %s", self._meter, self._settings.topico)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self._closing:
            return
        self.state = f"sem conexão com o broker ({reason}); tentando de novo"
        log.warning("%s: desconectado de %s: %s", self._meter, self._settings.broker.address, reason)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        reading = None
        try:
            reading = parse(message.payload, self._settings.formato, self._tz)
        except PayloadError as exc:
            self._invalid += 1
            if self._invalid % LOG_INVALID_EVERY == 1:
                log.warning("%s: mensagem ignorada em %s: %s (%d até agora)", self._meter, message.topic, exc,
                            self._invalid)
        with self._lock:
            self._arrived.append(_Message(message.mid, message.qos, self._connection, bool(message.dup),
                                          self._now_ms(), reading))
            self._lock.notify_all()

    # -- the agent's thread ---------------------------------------------------------------------------

    def take(self, limit: int, timeout_s: float) -> list[Delivery]:
        """Up to `limit` messages in arrival order, waiting up to `timeout_s` for the first."""
        with self._lock:
            if not self._arrived:
                self._lock.wait(timeout_s)
            messages = [self._arrived.popleft() for _ in range(min(limit, len(self._arrived)))]
        return [Delivery(m.mid, m.qos, self._measurement(m), m.connection) for m in messages]

    def _measurement(self, message: _Message) -> Measurement | None:
        if message.reading is None:
            return None
        return self._sequencer.reading(message.reading, message.received_ms, message.dup)

    def confirm(self, deliveries: list[Delivery]) -> None:
        """Acknowledge to the broker, in the order received (MQTT 3.1.1 §4.6), what is now
        spooled or was nothing to spool. A message that came on an earlier connection is not
        acknowledged: the broker delivers it again on this one (a repeat, then dropped), and its
        old packet id may by now name another message, which an acknowledgement would lose."""
        with self._lock:  # no reconnection between the check and the PUBACKs
            for delivery in deliveries:
                if delivery.qos > 0 and delivery.connection == self._connection:
                    self._client.ack(delivery.mid, delivery.qos)

    def set_multiplier(self, value: float) -> None:
        # A real meter's consumption cannot be scaled: the value is only reported to the server.
        self.multiplier = value

    def close(self) -> None:
        """Disconnect and join paho's thread. Unacknowledged messages stay with the broker."""
        self._closing = True
        self._client.disconnect()
        self._client.loop_stop()
