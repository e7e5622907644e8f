"""Home Assistant MQTT discovery for our meters: which topics, which payloads. No I/O here.

Per meter, retained configs on `<prefix>/<component>/<node_id>/<object_id>/config` (Home
Assistant's "MQTT Discovery" page): an energy (or gas/water volume) sensor, a power sensor, the
open billing cycle's cost in BRL for billed meters, and the active alerts as a binary sensor. All
read one retained JSON state topic per meter (`<base>/<meter>/estado`) through value templates,
and one availability topic (`<base>/status`, `online`, or `offline` as the server's last will).
An empty retained config removes an entity from Home Assistant.

Home Assistant's Energy dashboard has no discovery field for a sensor's role there (the user picks
the sensors for each slot); the role a meter's category means is in the entity's name and in its
`papel_energia` attribute, and docs/mqtt.md has the table.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, time as clock_time
from typing import Any

from servidor.domain.invoices import no_bill_reason
from servidor.domain.meters import Meter
from shared.models import Reading, format_timestamp

ONLINE = "online"
OFFLINE = "offline"
ALERTS_ON = "ON"   # Home Assistant's default payload_on / payload_off for binary sensors
ALERTS_OFF = "OFF"
CURRENCY = "BRL"   # ISO 4217, as Home Assistant's monetary device class wants it
# Home Assistant: node_id and object_id may only hold these characters.
DISCOVERY_ID = re.compile(r"[A-Za-z0-9_-]+")
NODE_PREFIX = "monitor_energia_"


@dataclass(frozen=True, slots=True)
class Role:
    """What a meter category is in Home Assistant's Energy dashboard, and how its counter shows."""

    papel: str          # the dashboard slot, in Home Assistant's words
    nome: str           # the counter entity's name (pt-BR)
    device_class: str
    unidade: str
    chave: str          # the state JSON key the counter entity reads
    potencia: bool      # power in W makes sense (not for water or gas)
    # total_increasing: a fall is a new meter (reset); a net meter's counter falls with export,
    # which Home Assistant must count, so it is `total` (docs/flows.md).
    state_class: str = "total_increasing"


_ENERGY = ("energy", "kWh", "energia_kwh", True)
ROLES: dict[str, Role] = {
    "gridImport": Role("grid_consumption", "Energia consumida da rede", *_ENERGY),
    "gridCons": Role("grid_consumption", "Consumo total da rede", *_ENERGY),
    "gridNet": Role("grid_consumption", "Energia líquida da rede", *_ENERGY, state_class="total"),
    "gridSub": Role("device_consumption", "Energia consumida (circuito)", *_ENERGY),
    "gridExport": Role("return_to_grid", "Energia devolvida à rede", *_ENERGY),
    "pvProd": Role("solar_production", "Energia produzida (solar)", *_ENERGY),
    "heatProd": Role("solar_production", "Energia produzida (calor)", *_ENERGY),
    # Water and gas meters count litres in the readings' counter (the server's "kWh" of them is
    # m³): shown in m³, which both device classes accept.
    "gridGas": Role("gas_consumption", "Gás consumido", "gas", "m³", "volume_m3", False),
    "gridWater": Role("water_consumption", "Água consumida", "water", "m³", "volume_m3", False),
}
# Every (component, object_id) a meter may have: cleared all when a meter goes or changes category.
ENTITIES = (("sensor", "energia"), ("sensor", "energia_devolvida"), ("sensor", "potencia"), ("sensor", "custo_ciclo"),
            ("binary_sensor", "alertas"))
# A two-counter meter's exported-energy counter (energia_exportada_wh, docs/flows.md).
RETURNED = Role("return_to_grid", "Energia devolvida à rede", *_ENERGY)


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str = "homeassistant"   # Home Assistant's discovery prefix (its default)
    base: str = "monitor-energia"   # our state and availability topics

    @property
    def availability(self) -> str:
        return f"{self.base}/status"

    @property
    def ha_status(self) -> str:
        """Where Home Assistant says `online` when it (re)starts: configs are sent again then."""
        return f"{self.prefix}/status"

    @property
    def our_configs(self) -> str:
        """A subscription that receives every retained config this suite may have left."""
        return f"{self.prefix}/+/+/+/config"

    @property
    def our_states(self) -> str:
        return f"{self.base}/+/estado"

    def state(self, meter_id: str) -> str:
        return f"{self.base}/{meter_id}/estado"

    def meter_of_state(self, topic: str) -> str | None:
        """The meter id of one of our state topics, None for any other topic."""
        head, _, meter_id = topic.removesuffix("/estado").rpartition("/")
        return meter_id if topic.endswith("/estado") and head == self.base and meter_id else None

    def config(self, component: str, meter_id: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/{node_id(meter_id)}/{object_id}/config"

    def all_configs(self, meter_id: str) -> list[str]:
        return [self.config(component, meter_id, object_id) for component, object_id in ENTITIES]

    def node_of(self, topic: str) -> str | None:
        """The node id of one of our config topics, None for anyone else's."""
        if not topic.startswith(self.prefix + "/"):
            return None
        parts = topic[len(self.prefix) + 1:].split("/")
        if len(parts) != 4 or parts[3] != "config" or not parts[1].startswith(NODE_PREFIX):
            return None
        return parts[1]


def node_id(meter_id: str) -> str:
    """Our meter ids allow '.', which discovery ids do not: replaced, with a hash so that `a.b`
    and `a_b` stay two devices."""
    if DISCOVERY_ID.fullmatch(meter_id):
        return NODE_PREFIX + meter_id
    digest = hashlib.sha256(meter_id.encode("utf-8")).hexdigest()[:8]
    return f"{NODE_PREFIX}{re.sub(r'[^A-Za-z0-9_-]', '_', meter_id)}_{digest}"


def role_of(meter: Meter) -> Role:
    return ROLES.get(meter.categoria, ROLES["gridImport"])


def billed(meter: Meter) -> bool:
    return no_bill_reason(meter) is None


def configs(meter: Meter, topics: Topics, version: str, exported: bool = False) -> dict[str, dict[str, Any]]:
    """Config topic → payload for every entity of `meter` (its category decides which; `exported`:
    it also sends an exported-energy counter)."""
    role = role_of(meter)
    node = node_id(meter.id)
    state = topics.state(meter.id)
    common: dict[str, Any] = {
        "state_topic": state,
        "availability_topic": topics.availability,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "json_attributes_topic": state,
        "json_attributes_template": "{{ {'papel_energia': value_json.papel_energia, 'medidor': value_json.medidor,"
                                    " 'ultima_leitura': value_json.ts} | tojson }}",
        "device": {"identifiers": [node], "name": meter.nome, "manufacturer": "monitor-energia",
                   "model": f"medidor {meter.categoria}", "sw_version": version},
        "origin": {"name": "monitor-energia", "sw_version": version},
    }
    out = {
        topics.config("sensor", meter.id, "energia"): {
            **common, "name": role.nome, "unique_id": f"{node}_energia", "device_class": role.device_class,
            "state_class": role.state_class, "unit_of_measurement": role.unidade,
            "value_template": f"{{{{ value_json.{role.chave} }}}}", "suggested_display_precision": 3},
        topics.config("binary_sensor", meter.id, "alertas"): {
            **common, "name": "Alertas", "unique_id": f"{node}_alertas", "device_class": "problem",
            "payload_on": ALERTS_ON, "payload_off": ALERTS_OFF, "value_template": "{{ value_json.alertas }}"},
    }
    if exported:
        out[topics.config("sensor", meter.id, "energia_devolvida")] = {
            **common, "name": RETURNED.nome, "unique_id": f"{node}_energia_devolvida", "device_class": "energy",
            "state_class": "total_increasing", "unit_of_measurement": "kWh",
            "value_template": "{{ value_json.energia_devolvida_kwh }}", "suggested_display_precision": 3}
    if role.potencia:
        out[topics.config("sensor", meter.id, "potencia")] = {
            **common, "name": "Potência", "unique_id": f"{node}_potencia", "device_class": "power",
            "state_class": "measurement", "unit_of_measurement": "W", "value_template": "{{ value_json.potencia_w }}"}
    if billed(meter):
        # Monetary sensors take state class `total` only; the value restarts each billing cycle,
        # and `last_reset` (the cycle's first instant) tells Home Assistant when.
        out[topics.config("sensor", meter.id, "custo_ciclo")] = {
            **common, "name": "Custo do ciclo", "unique_id": f"{node}_custo_ciclo", "device_class": "monetary",
            "state_class": "total", "unit_of_measurement": CURRENCY, "value_template": "{{ value_json.custo_ciclo }}",
            "last_reset_value_template": "{{ value_json.inicio_ciclo }}", "suggested_display_precision": 2}
    return out


def removed_configs(meter_id: str, topics: Topics, kept: dict[str, Any] | None = None) -> list[str]:
    """The config topics of `meter_id` to clear: all of them, or those not in `kept`."""
    return [topic for topic in topics.all_configs(meter_id) if kept is None or topic not in kept]


@dataclass(frozen=True, slots=True)
class Cost:
    total: float
    primeiro_dia: date


def state(meter: Meter, last: Reading | None, cost: Cost | None, active_alerts: int,
          exported: Reading | None = None) -> dict[str, Any]:
    """The retained state JSON every entity of `meter` reads (`exported`: the newest reading of
    its exported-energy counter). A value not known yet is null, which Home Assistant shows as
    unknown."""
    role = role_of(meter)
    tz = meter.tz
    counter = None if last is None else round(last.energia_wh / 1000, 3)
    body: dict[str, Any] = {
        "medidor": meter.id,
        "papel_energia": role.papel,
        "ts": None if last is None else format_timestamp(last.ts_ms, tz),
        role.chave: counter,
        "potencia_w": None if last is None or last.potencia_w is None else round(last.potencia_w, 1),
        "alertas": ALERTS_ON if active_alerts else ALERTS_OFF,
        "alertas_ativos": active_alerts,
    }
    if exported is not None:
        body["energia_devolvida_kwh"] = round(exported.energia_wh / 1000, 3)
    if cost is not None:
        body["custo_ciclo"] = round(cost.total, 2)
        body["inicio_ciclo"] = datetime.combine(cost.primeiro_dia, clock_time(0), tz).isoformat()
    elif billed(meter):
        body["custo_ciclo"] = None
        body["inicio_ciclo"] = None
    return body
