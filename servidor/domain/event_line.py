"""energy-sensors' event lines (docs/protocolos.md §4): parsing, and the fields clustering needs.

`Device: ID=1; Fw=16071801; Evt=2; Alarms: CoilRevesed=OFF; Power: Active=1753W; …; Peaks:
7.33;…; UTC Time: 2016-10-4 16:47:50; hz: 49.87`. Tokens are separated by `;`; a token that starts
with `Name:` opens a section. A section of `key=value` tokens becomes an object, a section of
plain values a list (one value: that value). Section and key names are kept exactly as sent,
misspellings included (`CoilRevesed`, `Appearent`): they are the devices' real ones. Values:
`ON`/`OFF` are booleans; numbers may carry a unit suffix (`W var VA V rad Hz A`) and a decimal
comma; anything else stays text. Pure functions: the parse service runs them alone.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

# An event line is a few hundred bytes (an FFT of 64 bins is ~1.5 KB); beyond this it is not one.
MAX_LINE_BYTES = 64 * 1024
_SECTION = re.compile(r"([A-Za-z][A-Za-z0-9 _]*?)\s*:\s*(.*)", re.S)
# Digits bounded: a reading has a dozen at most, and int() of thousands of digits is refused.
_NUMBER = re.compile(r"([+-]?\d{1,30}(?:[.,]\d{1,30})?(?:[eE][+-]?\d{1,3})?)\s*(W|var|VA|V|rad|Hz|A)?")
# The features MeanShift clusters on, as (section, key) paths, and the first peaks.
FEATURES = (("Power", "Active"), ("Power", "Reactive"), ("Power", "Appearent"), ("Line", "Current"),
            ("Line", "Voltage"))
PEAKS = "Peaks"
PEAKS_USED = 3
# Numbers stored with each event (what the event stores are opened with).
FEATURE_WIDTH = len(FEATURES) + PEAKS_USED
_INF = float("inf")
# Beyond this a measurement is not one (and a float of it could overflow).
MAX_MAGNITUDE = 1e12


class EventError(ValueError):
    """A line or a parsed event that cannot be stored; the message (pt-BR) says what is wrong."""


def value_of(text: str) -> Any:
    """One value: bool, int, float (unit and decimal comma handled) or the text itself."""
    if text == "ON":
        return True
    if text == "OFF":
        return False
    match = _NUMBER.fullmatch(text)
    if match is None:
        return text
    number = match.group(1).replace(",", ".")
    if re.fullmatch(r"[+-]?\d+", number):
        return int(number)
    value = float(number)
    return value if value not in (_INF, -_INF) else text


def parse_line(line: str) -> dict[str, Any]:
    """The event as an object of sections; EventError saying what is malformed."""
    if len(line.encode("utf-8")) > MAX_LINE_BYTES:
        raise EventError(f"linha com mais de {MAX_LINE_BYTES} bytes")
    event: dict[str, Any] = {}
    section: str | None = None
    pairs: dict[str, Any] = {}
    values: list[Any] = []

    def close() -> None:
        if section is None:
            return
        if pairs and values:
            raise EventError(f"seção {section}: valores com e sem chave misturados")
        event[section] = pairs if pairs else (values[0] if len(values) == 1 else list(values))

    for raw in line.strip().split(";"):
        token = raw.strip()
        if not token:
            continue
        head = _SECTION.fullmatch(token)
        if head is not None and "=" not in head.group(1):
            close()
            section, pairs, values = head.group(1), {}, []
            if section in event:
                raise EventError(f"seção {section} repetida")
            token = head.group(2).strip()
            if not token:
                continue
        if section is None:
            raise EventError(f"texto antes da primeira seção: {token[:40]!r}")
        key, equals, text = token.partition("=")
        if equals:
            key = key.strip()
            if not key:
                raise EventError(f"seção {section}: chave vazia em {token[:40]!r}")
            pairs[key] = value_of(text.strip())
        else:
            values.append(value_of(token))
    close()
    if not event:
        raise EventError("linha vazia")
    return event


def from_json(body: Any) -> dict[str, Any]:
    """The parsed form sent as JSON: an object, or a JSON string holding one (what the original's
    replay through /log/parse produced)."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            raise EventError("a string JSON não contém um evento em JSON") from None
    if not isinstance(body, dict) or not body:
        raise EventError("o evento deve ser um objeto JSON com as seções da linha")
    return body


@dataclass(frozen=True, slots=True)
class Features:
    """What clustering and the live view take from an event."""

    sensor: str
    values: tuple[float, ...]  # active W, reactive var, apparent VA, current A, voltage V, 3 peaks
    utc_ms: int | None
    hz: float | None

    @property
    def active_w(self) -> float:
        return self.values[0]


def _number(event: dict[str, Any], section: str, key: str | None = None) -> float:
    where = section if key is None else f"{section}.{key}"
    holder = event.get(section)
    value = holder if key is None else (holder.get(key) if isinstance(holder, dict) else None)
    if value is None:
        raise EventError(f"falta {where}")
    if type(value) not in (int, float) or not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:  # NaN fails too
        raise EventError(f"{where} deve ser um número (de −{MAX_MAGNITUDE:g} a {MAX_MAGNITUDE:g})")
    return float(value)


def features(event: dict[str, Any]) -> Features:
    """The stored event's required fields; EventError naming the first missing or malformed one."""
    device = event.get("Device")
    sensor = device.get("ID") if isinstance(device, dict) else None
    if type(sensor) is not int or sensor < 0 or sensor >= 10**12:
        raise EventError("falta Device.ID (um inteiro ≥ 0)" if sensor is None else "Device.ID deve ser um inteiro ≥ 0")
    values = [_number(event, section, key) for section, key in FEATURES]
    peaks = event.get(PEAKS)
    peaks = peaks if isinstance(peaks, list) else [peaks] if peaks is not None else []
    if len(peaks) < PEAKS_USED or not all(type(p) in (int, float) and -MAX_MAGNITUDE <= p <= MAX_MAGNITUDE
                                          for p in peaks[:PEAKS_USED]):
        raise EventError(f"{PEAKS} precisa de pelo menos {PEAKS_USED} números")
    values += [float(p) for p in peaks[:PEAKS_USED]]
    utc = event.get("UTC Time")
    utc_ms = None
    if isinstance(utc, str):
        try:
            moment = datetime.strptime(utc.strip()[:40], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
            utc_ms = int(moment.timestamp() * 1000)
        except (ValueError, OverflowError):
            raise EventError(f"UTC Time inválido: {utc[:40]!r} (use AAAA-M-D HH:MM:SS)") from None
    hz = event.get("hz")
    usable = type(hz) in (int, float) and 0 < hz < 1000
    return Features(str(sensor), tuple(values), utc_ms, float(hz) if usable else None)
