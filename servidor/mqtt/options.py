"""`servidor --mqtt …`: the options of the Home Assistant bridge, validated before the server starts."""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from servidor.mqtt.discovery import Topics
from shared import mqtt_broker
from shared.mqtt_broker import Broker, BrokerError

ENV_URL = "MONITOR_MQTT"
ENV_PREFIX = "MONITOR_MQTT_PREFIXO"
ENV_BASE = "MONITOR_MQTT_BASE"


@dataclass(frozen=True, slots=True)
class MqttOutput:
    broker: Broker
    topics: Topics


def add_options(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    group = mqtt_broker.add_options(parser, "Home Assistant por MQTT (--mqtt)")
    group.add_argument("--mqtt", default=env(ENV_URL) or None, metavar="URL",
                       help="publica os medidores num broker MQTT, com descoberta do Home Assistant: "
                            f"mqtt://host:1883 ou mqtts://host:8883 (ou {ENV_URL}; padrão: desligado)")
    group.add_argument("--mqtt-prefixo", default=env(ENV_PREFIX) or "homeassistant", metavar="PREFIXO",
                       help="prefixo de descoberta do Home Assistant (padrão: homeassistant)")
    group.add_argument("--mqtt-base", default=env(ENV_BASE) or "monitor-energia", metavar="TOPICO",
                       help="tópico base do estado e da disponibilidade (padrão: monitor-energia)")


def _topic_root(value: str, option: str) -> str:
    levels = value.split("/")
    if not value or any(not level or "+" in level or "#" in level for level in levels) or value.startswith("$"):
        raise BrokerError(f"{option} deve ser um tópico sem + nem #, sem níveis vazios e sem $ no começo "
                          f"(recebido {value!r})")
    return value


def output_from_args(args: argparse.Namespace) -> MqttOutput | None:
    """None without --mqtt; BrokerError (pt-BR) for invalid settings."""
    if not args.mqtt:
        return None
    broker = mqtt_broker.broker_from_args(args.mqtt, args)
    topics = Topics(_topic_root(args.mqtt_prefixo, "--mqtt-prefixo"), _topic_root(args.mqtt_base, "--mqtt-base"))
    return MqttOutput(broker, topics)
