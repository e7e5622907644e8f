"""What smart plugs and DIY meters publish to a broker, turned into readings. No I/O here.

- Tasmota, `tele/<topic>/SENSOR`: `{"Time": "2026-11-30T08:27:00", "ENERGY": {"Total": 12.345 (kWh),
  "Power": 120 (W), "Voltage": 229, "Current": 0.55, "Factor": 0.92, "ApparentPower": …,
  "ReactivePower": …}}`. `Time` is the plug's local time (its own time zone setting) unless it
  carries an offset; a plug with several relays gives lists for Power, Current, … (summed or per phase).
- Shelly Gen2/Plus, `<prefix>/status/switch:0`: `{"apower": 120.5 (W), "voltage": 229.1,
  "current": 0.53, "pf": 0.9, "aenergy": {"total": 12345.678 (Wh), …}}`; no time of its own.
- Our plain format: `{"energia_wh": 12345.6, "potencia_w": 120.5}`, optionally `"ts"` (ISO 8601
  with offset) for the instant it was measured.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.models import EARLIEST_TS_MS, MAX_VALUES_PER_CODE, Measurement as MeasurementValue, parse_timestamp_ms

FORMATS = ("auto", "tasmota", "shelly", "simples")
# A payload bigger than this is not a meter's telemetry (Tasmota's SENSOR is a few hundred bytes).
MAX_PAYLOAD_BYTES = 64 * 1024


class PayloadError(ValueError):
    """A message that carries no reading; the pt-BR message says why."""


@dataclass(frozen=True, slots=True)
class DeviceReading:
    """One message's reading. `ts_ms` is the device's own time of measurement, None when the
    format has none (the agent uses the time it received the message)."""

    energia_wh: float
    potencia_w: float | None
    medidas: tuple[tuple[str, MeasurementValue], ...] = ()
    ts_ms: int | None = None


def detect(doc: dict[str, Any]) -> str:
    if isinstance(doc.get("ENERGY"), dict):
        return "tasmota"
    if isinstance(doc.get("aenergy"), dict):
        return "shelly"
    if "energia_wh" in doc:
        return "simples"
    raise PayloadError("formato desconhecido: nem Tasmota (ENERGY), nem Shelly (aenergy), nem energia_wh")


def parse(payload: bytes, formato: str, tz: ZoneInfo) -> DeviceReading:
    """The reading in one message of `formato` ("auto": detected); PayloadError otherwise."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"mensagem de {len(payload)} bytes: grande demais para uma leitura")
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("a mensagem não é JSON") from None
    if not isinstance(doc, dict):
        raise PayloadError("a mensagem não é um objeto JSON")
    kind = detect(doc) if formato == "auto" else formato
    if kind == "tasmota":
        return _tasmota(doc, tz)
    if kind == "shelly":
        return _shelly(doc)
    if kind == "simples":
        return _plain(doc)
    raise PayloadError(f"formato desconhecido: {formato}")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PayloadError(f"{what} deve ser um número (recebido {str(value)[:40]!r})")
    return float(value)


def _optional(value: Any, what: str) -> float | None:
    return None if value is None else _number(value, what)


def _per_phase(value: Any, what: str) -> MeasurementValue | None:
    """A number, or a list of one per relay/phase (Tasmota's multi-channel devices)."""
    if value is None:
        return None
    if isinstance(value, list):
        values = tuple(_number(v, what) for v in value[:MAX_VALUES_PER_CODE])
        if not values:
            return None
        return values[0] if len(values) == 1 else values
    return _number(value, what)


def _total(value: MeasurementValue | None) -> float | None:
    if value is None:
        return None
    return sum(value) if isinstance(value, tuple) else value


def _codes(**values: MeasurementValue | None) -> tuple[tuple[str, MeasurementValue], ...]:
    return tuple(sorted((code, value) for code, value in values.items() if value is not None))


def _tasmota(doc: dict[str, Any], tz: ZoneInfo) -> DeviceReading:
    energy = doc.get("ENERGY")
    if not isinstance(energy, dict):
        raise PayloadError("mensagem Tasmota sem ENERGY (é de um sensor que não mede energia?)")
    if "Total" not in energy:
        raise PayloadError("mensagem Tasmota sem ENERGY.Total")
    total_kwh = _number(energy["Total"], "ENERGY.Total")
    power = _per_phase(energy.get("Power"), "ENERGY.Power")
    voltage = _per_phase(energy.get("Voltage"), "ENERGY.Voltage")
    current = _per_phase(energy.get("Current"), "ENERGY.Current")
    factor = _per_phase(energy.get("Factor"), "ENERGY.Factor")
    apparent = _per_phase(energy.get("ApparentPower"), "ENERGY.ApparentPower")
    reactive = _per_phase(energy.get("ReactivePower"), "ENERGY.ReactivePower")
    medidas = _codes(TPF=voltage, IPF=current, FPT=_mean(factor), PAP=_total(apparent), PRT=_total(reactive),
                     PAF=power if isinstance(power, tuple) else None)
    return DeviceReading(round(total_kwh * 1000, 3), _total(power), medidas, _tasmota_time(doc.get("Time"), tz))


def _mean(value: MeasurementValue | None) -> float | None:
    if isinstance(value, tuple):
        return round(sum(value) / len(value), 4)
    return value


def _tasmota_time(value: Any, tz: ZoneInfo) -> int | None:
    """Tasmota's `Time`: local time without offset (its `Timezone` setting), or with one
    (SetOption52). A plug that never got the time (NTP) says 1970: then None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    ts_ms = int(moment.timestamp() * 1000)
    return ts_ms if ts_ms >= EARLIEST_TS_MS else None


def _shelly(doc: dict[str, Any]) -> DeviceReading:
    energy = doc.get("aenergy")
    if not isinstance(energy, dict) or "total" not in energy:
        raise PayloadError("mensagem Shelly sem aenergy.total")
    medidas = _codes(TPF=_optional(doc.get("voltage"), "voltage"), IPF=_optional(doc.get("current"), "current"),
                     FPT=_optional(doc.get("pf"), "pf"), FRE=_optional(doc.get("freq"), "freq"))
    return DeviceReading(round(_number(energy["total"], "aenergy.total"), 3),
                         _optional(doc.get("apower"), "apower"), medidas)


def _plain(doc: dict[str, Any]) -> DeviceReading:
    if "energia_wh" not in doc:
        raise PayloadError("mensagem sem energia_wh")
    ts_ms = None
    if doc.get("ts") is not None:
        try:
            ts_ms = parse_timestamp_ms(doc["ts"])
        except ValueError as exc:
            raise PayloadError(f"ts: {exc}") from None
    return DeviceReading(round(_number(doc["energia_wh"], "energia_wh"), 3),
                         _optional(doc.get("potencia_w"), "potencia_w"), (), ts_ms)
