"""The server's meters published to an MQTT broker, with Home Assistant discovery (docs/mqtt.md).

A layer beside the API: it reads the domain services and imports shared and servidor.domain
only; servidor/cli.py wires it in when `--mqtt` is given."""
from servidor.mqtt.discovery import Topics
from servidor.mqtt.options import MqttOutput, add_options, output_from_args

__all__ = ["MqttOutput", "Topics", "add_options", "output_from_args"]
