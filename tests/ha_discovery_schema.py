"""Home Assistant's MQTT discovery schema for the entities we publish, written from its documentation
(MQTT integration "Discovery"; "MQTT Sensor"; "MQTT Binary sensor"; Sensor entity: device classes,
their units and state classes; the Energy dashboard's requirements), so that a payload it would
refuse or misread fails here. Stricter than Home Assistant where that costs nothing: an unknown
key is an error (Home Assistant drops it silently, hiding a typo)."""
from __future__ import annotations

import re
from typing import Any

# Discovery topic: <discovery_prefix>/<component>/[<node_id>/]<object_id>/config, where node_id and
# object_id are "[a-zA-Z0-9_-]+".
TOPIC = re.compile(r"^(?P<prefix>.+)/(?P<component>sensor|binary_sensor)/(?:(?P<node>[a-zA-Z0-9_-]+)/)?"
                   r"(?P<object>[a-zA-Z0-9_-]+)/config$")
COMMON = {"name", "unique_id", "state_topic", "value_template", "availability_topic", "payload_available",
          "payload_not_available", "availability", "availability_mode", "device", "origin", "device_class", "icon",
          "json_attributes_topic", "json_attributes_template", "enabled_by_default", "entity_category", "qos",
          "expire_after", "force_update", "encoding", "default_entity_id", "object_id"}
SENSOR_KEYS = COMMON | {"state_class", "unit_of_measurement", "last_reset_value_template",
                        "suggested_display_precision", "options"}
BINARY_KEYS = COMMON | {"payload_on", "payload_off", "off_delay"}
DEVICE_KEYS = {"identifiers", "connections", "name", "manufacturer", "model", "model_id", "sw_version", "hw_version",
               "serial_number", "suggested_area", "via_device", "configuration_url"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
# Sensor device classes we may use: the units and state classes Home Assistant accepts for each.
UNITS = {
    "energy": {"Wh", "kWh", "MWh", "GWh", "TWh", "MJ", "GJ", "cal", "kcal", "Mcal", "Gcal", "mWh"},
    "power": {"mW", "W", "kW", "MW", "GW", "TW"},
    "gas": {"m³", "ft³", "CCF", "L"},
    "water": {"L", "m³", "gal", "ft³", "CCF"},
}
STATE_CLASSES_OF = {"energy": {"total", "total_increasing"}, "power": {"measurement"},
                    "gas": {"total", "total_increasing"}, "water": {"total", "total_increasing"},
                    "monetary": {"total"}}
BINARY_DEVICE_CLASSES = {"problem", "safety", "power", "connectivity", "running", "update", "plug"}
# Energy dashboard: which sensors each source accepts.
DASHBOARD = {
    "grid_consumption": ({"energy"}, {"Wh", "kWh", "MWh", "GJ", "MJ"}),
    "return_to_grid": ({"energy"}, {"Wh", "kWh", "MWh", "GJ", "MJ"}),
    "solar_production": ({"energy"}, {"Wh", "kWh", "MWh", "GJ", "MJ"}),
    "device_consumption": ({"energy"}, {"Wh", "kWh", "MWh", "GJ", "MJ"}),
    "gas_consumption": ({"gas", "energy"}, {"m³", "ft³", "CCF", "L", "Wh", "kWh", "MWh", "GJ", "MJ"}),
    "water_consumption": ({"water"}, {"L", "m³", "gal", "ft³", "CCF"}),
}
CURRENCY = re.compile(r"^[A-Z]{3}$")  # ISO 4217


def topic_ok(topic: str, wildcards: bool = False) -> bool:
    return bool(topic) and (wildcards or ("+" not in topic and "#" not in topic))


def errors(topic: str, payload: dict[str, Any]) -> list[str]:
    """Why Home Assistant would refuse or misread this discovery message ([] when it is fine)."""
    found: list[str] = []
    match = TOPIC.match(topic)
    if match is None:
        return [f"{topic}: not a discovery topic <prefix>/<component>/[<node_id>/]<object_id>/config"]
    component = match["component"]
    allowed = SENSOR_KEYS if component == "sensor" else BINARY_KEYS
    found += [f"unknown key {k}" for k in sorted(set(payload) - allowed)]
    if not isinstance(payload.get("state_topic"), str) or not topic_ok(payload["state_topic"]):
        found.append("state_topic is required: a topic without wildcards")
    for key in ("name", "unique_id", "value_template", "availability_topic", "payload_available",
                "payload_not_available", "json_attributes_topic", "json_attributes_template"):
        if key in payload and not isinstance(payload[key], str):
            found.append(f"{key} must be a string")
    if "availability_topic" in payload and "availability" in payload:
        found.append("availability and availability_topic cannot be used together")
    if "json_attributes_template" in payload and "json_attributes_topic" not in payload:
        found.append("json_attributes_template needs json_attributes_topic")
    device = payload.get("device")
    if device is not None:
        if not isinstance(device, dict):
            found.append("device must be a map")
        else:
            found += [f"unknown device key {k}" for k in sorted(set(device) - DEVICE_KEYS)]
            ids = device.get("identifiers")
            if not (isinstance(ids, str) or (isinstance(ids, list) and ids and all(isinstance(i, str) for i in ids))):
                found.append("device.identifiers must be a string or a list of strings")
    origin = payload.get("origin")
    if origin is not None and (not isinstance(origin, dict) or not isinstance(origin.get("name"), str)
                               or set(origin) - ORIGIN_KEYS):
        found.append("origin must be a map with a name")
    if component == "sensor":
        found += _sensor(payload)
    else:
        if payload.get("device_class") not in (None, *BINARY_DEVICE_CLASSES):
            found.append(f"binary sensor device_class {payload.get('device_class')} unknown")
        for key in ("payload_on", "payload_off"):
            if key in payload and not isinstance(payload[key], str):
                found.append(f"{key} must be a string")
    return found


def _sensor(payload: dict[str, Any]) -> list[str]:
    found = []
    device_class, unit, state_class = (payload.get(k) for k in ("device_class", "unit_of_measurement", "state_class"))
    if state_class is not None and state_class not in STATE_CLASSES:
        found.append(f"state_class {state_class} unknown")
    if device_class == "monetary":
        if not isinstance(unit, str) or not CURRENCY.match(unit):
            found.append("a monetary sensor's unit is an ISO 4217 currency code")
    elif device_class in UNITS:
        if unit not in UNITS[device_class]:
            found.append(f"unit {unit} is not valid for device_class {device_class}")
    elif device_class is not None:
        found.append(f"device_class {device_class} is not one this check knows")
    if device_class in STATE_CLASSES_OF and state_class is not None and state_class not in STATE_CLASSES_OF[device_class]:
        found.append(f"state_class {state_class} is impossible with device_class {device_class}")
    if "last_reset_value_template" in payload and state_class != "total":
        found.append("last_reset_value_template is only for state_class total")
    precision = payload.get("suggested_display_precision")
    if precision is not None and (type(precision) is not int or precision < 0):
        found.append("suggested_display_precision must be an integer ≥ 0")
    return found


def dashboard_errors(payload: dict[str, Any], role: str) -> list[str]:
    """Why the Energy dashboard would not offer this sensor for `role`."""
    classes, units = DASHBOARD[role]
    found = []
    if payload.get("device_class") not in classes:
        found.append(f"{role} needs device_class in {sorted(classes)}")
    if payload.get("unit_of_measurement") not in units:
        found.append(f"{role} needs a unit in {sorted(units)}")
    if payload.get("state_class") not in ("total", "total_increasing"):
        found.append(f"{role} needs state_class total or total_increasing")
    return found
