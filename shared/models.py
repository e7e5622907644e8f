"""Values every program exchanges: a reading and the measurement codes it may carry.

A reading's `energia_wh` is the meter's cumulative counter; consumption is the difference of
counters, so a gap between readings loses no energy (docs/protocolos.md §1).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

# Tesla Analyzer's measurement codes (docs/protocolos.md §1) with their units, as the API reports them.
MEASUREMENT_CODES: dict[str, str] = {
    "TPF": "V",     # phase-neutral voltage per phase
    "IPF": "A",     # current per phase (+ neutral)
    "FRE": "Hz",    # frequency
    "PAF": "W",     # active power per phase
    "PAT": "W",     # total active power
    "PAP": "VA",    # total apparent power
    "PRT": "var",   # total reactive power
    "FPT": "",      # total power factor
    "THDV": "%",    # voltage harmonic distortion
    "THDI": "%",    # current harmonic distortion
    "CEA": "kWh",   # active energy counter
    "CER": "kvarh",  # reactive energy counter
}

# A meter id appears in URLs and file names: a conservative slug (004's UUIDs fit). Anchored so
# the pattern also means "whole string" in JSON Schema; always use it with fullmatch in Python,
# where "$" alone would accept a trailing newline.
METER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# Readings before this are surely a clock that was never set (an RTC at 1970 or 2000).
EARLIEST_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
# A meter's clock may run ahead of the server's; more than this is a wrong clock, not skew.
MAX_FUTURE_SKEW_MS = 10 * 60 * 1000
# Counters stay below 2^53 / 10 Wh so that every float step of 0.1 Wh is exact and sums of them
# stay finite in Decimal invoices: 10^14 Wh is 100 million MWh, beyond any meter's register.
MAX_COUNTER_WH = 1e14
# Power of a single installation: 1 GW is a large power plant; more is a unit error.
MAX_POWER_W = 1e9
# Per-phase lists have at most 3 phases + neutral; more is a malformed reading.
MAX_VALUES_PER_CODE = 4

Measurement = float | tuple[float, ...]


class InvalidReading(ValueError):
    """A reading that cannot be stored; the message says why, in pt-BR, for the API's answer."""


def parse_timestamp_ms(value: Any) -> int:
    """ISO 8601 with an offset, or epoch milliseconds, to epoch milliseconds.

    A naive ISO time is refused: without an offset the instant is ambiguous (DST, zones).
    """
    if isinstance(value, bool):
        raise InvalidReading("ts deve ser ISO 8601 com fuso ou milissegundos desde 1970")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)  # sub-millisecond precision is below any meter's clock
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidReading(f"ts não é uma data ISO 8601: {value!r}") from None
        if moment.tzinfo is None:
            raise InvalidReading(f"ts sem fuso horário (use Z ou ±HH:MM): {value!r}")
        return int(moment.timestamp() * 1000)
    raise InvalidReading("ts deve ser ISO 8601 com fuso ou milissegundos desde 1970")


def format_timestamp(ts_ms: int, tz: Any = timezone.utc) -> str:
    """Epoch milliseconds as ISO 8601 with offset in `tz` (milliseconds shown only when present)."""
    moment = datetime.fromtimestamp(ts_ms / 1000, tz)
    spec = "milliseconds" if ts_ms % 1000 else "seconds"
    return moment.isoformat(timespec=spec)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidReading(f"{name} deve ser um número")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidReading(f"{name} deve ser finito")
    return number


def _measurement(code: str, value: Any) -> Measurement:
    if isinstance(value, (list, tuple)):
        if not 1 <= len(value) <= MAX_VALUES_PER_CODE:
            raise InvalidReading(f"{code} deve ter de 1 a {MAX_VALUES_PER_CODE} valores")
        return tuple(_number(code, v) for v in value)
    return _number(code, value)


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading of one meter. `seq` is chosen by the meter and identifies retries."""

    seq: int
    ts_ms: int
    energia_wh: float
    potencia_w: float | None = None
    # Other measurements keyed by code, sorted by code so equal readings compare equal.
    medidas: tuple[tuple[str, Measurement], ...] = ()
    # The energy counter was integrated from power, not read from the device (issue: drivers).
    estimada: bool = False

    def __post_init__(self) -> None:
        _check_core(self.seq, self.ts_ms, self.energia_wh, self.potencia_w)
        for code, _ in self.medidas:
            if code not in MEASUREMENT_CODES:
                raise InvalidReading(f"código de medida desconhecido: {code}")

    @classmethod
    def from_json(cls, obj: Any, now_ms: int | None = None) -> "Reading":
        """Build from the API's JSON form; raises InvalidReading with the reason.

        `now_ms`, when given, rejects readings stamped too far in the future. This is the ingest
        hot path (a batch is 1000 of these): exact-type checks first, and the same checks as
        __post_init__ (one `_check_core`) run once, not twice.
        """
        if type(obj) is not dict and not isinstance(obj, Mapping):
            raise InvalidReading("leitura deve ser um objeto JSON")
        try:
            seq, raw_ts, raw_energy = obj["seq"], obj["ts"], obj["energia_wh"]
        except KeyError as exc:
            raise InvalidReading(f"falta o campo {exc.args[0]}") from None
        ts_ms = raw_ts if type(raw_ts) is int else parse_timestamp_ms(raw_ts)
        energia = float(raw_energy) if type(raw_energy) in _PLAIN_NUMBERS else _number("energia_wh", raw_energy)
        potencia = obj.get("potencia_w")
        if potencia is not None:
            potencia = float(potencia) if type(potencia) in _PLAIN_NUMBERS else _number("potencia_w", potencia)
        _check_core(seq, ts_ms, energia, potencia)
        if now_ms is not None and ts_ms > now_ms + MAX_FUTURE_SKEW_MS:
            raise InvalidReading("ts no futuro: confira o relógio do medidor")
        medidas: tuple[tuple[str, Measurement], ...] = ()
        estimada = False
        if len(obj) > 3 + ("potencia_w" in obj):  # anything beyond the core fields
            found = []
            for key, value in obj.items():
                if key in _FIELDS:
                    continue
                if key not in MEASUREMENT_CODES:
                    raise InvalidReading(f"campo desconhecido: {key}")
                found.append((key, _measurement(key, value)))
            medidas = tuple(sorted(found))
            estimada = obj.get("estimada", False)
            if type(estimada) is not bool:
                raise InvalidReading("estimada deve ser true ou false")
        # Validated above: fill the slots directly instead of running __post_init__'s checks again.
        reading = object.__new__(cls)
        _set(reading, "seq", seq)
        _set(reading, "ts_ms", ts_ms)
        _set(reading, "energia_wh", energia)
        _set(reading, "potencia_w", potencia)
        _set(reading, "medidas", medidas)
        _set(reading, "estimada", estimada)
        return reading

    def to_json(self, tz: Any = timezone.utc) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "ts": format_timestamp(self.ts_ms, tz), "energia_wh": self.energia_wh}
        if self.potencia_w is not None:
            out["potencia_w"] = self.potencia_w
        for code, value in self.medidas:
            out[code] = list(value) if isinstance(value, tuple) else value
        if self.estimada:
            out["estimada"] = True
        return out


_FIELDS = frozenset({"seq", "ts", "energia_wh", "potencia_w", "estimada"})
_set = object.__setattr__  # frozen dataclasses block their own __setattr__
_PLAIN_NUMBERS = (int, float)  # exact types: bool is excluded because type(True) is bool


def _check_core(seq: Any, ts_ms: Any, energia_wh: float, potencia_w: float | None) -> None:
    """The checks every Reading passes, however it is built."""
    if type(seq) is not int or seq < 0:
        raise InvalidReading("seq deve ser um inteiro ≥ 0")
    if seq >= 2**63:
        raise InvalidReading("seq grande demais (máximo 2^63 − 1)")
    if type(ts_ms) is not int:
        raise InvalidReading("ts deve ser um instante")
    if ts_ms < EARLIEST_TS_MS:
        raise InvalidReading("ts anterior a 2000-01-01: relógio do medidor não ajustado?")
    if ts_ms >= 2**53:
        raise InvalidReading("ts fora do intervalo")
    # NaN fails both comparisons; infinity fails the upper bound.
    if not 0 <= energia_wh <= MAX_COUNTER_WH:
        raise InvalidReading(f"energia_wh deve ser um contador entre 0 e {MAX_COUNTER_WH:g} Wh")
    if potencia_w is not None and not -MAX_POWER_W <= potencia_w <= MAX_POWER_W:
        raise InvalidReading(f"potencia_w deve ser finito e no máximo {MAX_POWER_W:g} W em valor absoluto")
