"""`medidor simular-tasmota`: a Tasmota smart plug that publishes `tele/<topic>/SENSOR` to a
broker, its consumption following one of our profiles. For the demo and for trying
`medidor --fonte mqtt` without a plug: it publishes what a real one does (QoS 1, its own
persistent session, `Time` in local time without offset, `ENERGY.Total` in kWh)."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import zlib
from datetime import datetime
from zoneinfo import ZoneInfo

from medidor.profiles import PROFILES, make_profile
from medidor.simulated_source import SimulatedMeter
from shared import argparse_pt, mqtt_broker

COMMAND = "simular-tasmota"
# Tasmota's TelePeriod is 10 s at the least and 300 s by default; 10 s keeps a demo lively.
DEFAULT_PERIOD_S = 10.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse_pt.parser(
        prog=f"medidor {COMMAND}",
        description="Uma tomada Tasmota simulada: publica tele/<tópico>/SENSOR num broker MQTT, com o consumo de "
                    "um perfil. O agente: medidor --fonte mqtt --broker <o mesmo> --topico tele/<tópico>/SENSOR …",
    )
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883", metavar="URL",
                        help="mqtt://host:1883 ou mqtts://host:8883 (padrão: mqtt://127.0.0.1:1883)")
    parser.add_argument("--topico", default="tele/tomada/SENSOR", help="padrão: tele/tomada/SENSOR")
    parser.add_argument("--intervalo", type=float, default=DEFAULT_PERIOD_S, metavar="S",
                        help=f"segundos entre mensagens (o TelePeriod; padrão: {DEFAULT_PERIOD_S:g})")
    parser.add_argument("--perfil", choices=PROFILES, default="residencial", help="padrão: residencial")
    parser.add_argument("--semente", type=int, help="semente do perfil (padrão: derivada do tópico)")
    parser.add_argument("--fuso", default="America/Sao_Paulo",
                        help="fuso do relógio da tomada (o Timezone do Tasmota; padrão: America/Sao_Paulo)")
    mqtt_broker.add_options(parser, "login e TLS do broker MQTT")
    return parser


def sensor_payload(ts_ms: int, total_wh: float, power_w: float, tz: ZoneInfo) -> bytes:
    local = datetime.fromtimestamp(ts_ms / 1000, tz).replace(tzinfo=None).isoformat(timespec="seconds")
    power = max(0.0, power_w)  # a plug measures what goes through it, never export
    volts = 127.0
    return json.dumps({"Time": local, "ENERGY": {
        "TotalStartTime": "2026-01-01T00:00:00", "Total": round(total_wh / 1000, 3), "Power": round(power),
        "ApparentPower": round(power / 0.95), "ReactivePower": round(power * 0.33), "Factor": 0.95,
        "Voltage": volts, "Current": round(power / 0.95 / volts, 3)}}).encode()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        broker = mqtt_broker.broker_from_args(args.broker, args)
    except mqtt_broker.BrokerError as exc:
        print(f"medidor {COMMAND}: {exc}", file=sys.stderr)
        return 2
    import paho.mqtt.client as mqtt

    tz = ZoneInfo(args.fuso)
    seed = args.semente if args.semente is not None else zlib.crc32(args.topico.encode())
    meter = SimulatedMeter(make_profile(args.perfil, seed, args.fuso), start_ms=int(time.time() * 1000))
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"tasmota-simulado-{seed:08x}",
                         clean_session=False)
    broker.configure(client)
    client.reconnect_delay_set(1, 30)
    client.connect_async(broker.host, broker.port, 30)
    client.loop_start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"tomada Tasmota simulada publicando em {args.topico} ({broker.address}) a cada {args.intervalo:g} s",
          flush=True)
    try:
        while not stop.is_set():
            now = int(time.time() * 1000)
            reading = meter.measure(now)
            client.publish(args.topico, sensor_payload(now, reading.energia_wh, reading.potencia_w or 0.0, tz), qos=1)
            stop.wait(args.intervalo)
    finally:
        client.disconnect()
        client.loop_stop()
    return 0
