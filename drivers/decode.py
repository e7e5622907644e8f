"""Pure decoding of register contents into measurements, and its inverse for simulators and tests.

No I/O here: the Modbus transport hands in a {(function, register): word} mapping in the map's
own numbering, and gets measurements back.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from .base import DeviceProtocolError, Measurement
from .register_map import DATATYPES, Field, RegisterMap, Target

_STRUCT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f"}
_INT_RANGE = {"int16": (-2**15, 2**15 - 1), "uint16": (0, 2**16 - 1),
              "int32": (-2**31, 2**31 - 1), "uint32": (0, 2**32 - 1)}
# Extra decimal places kept beyond a field's resolution when rounding away float noise
# (230.10000000000002 → 230.1) without losing any digit the register carried.
_EXTRA_DIGITS = 2

Words = Mapping[tuple[int, int], int]


@dataclass(frozen=True, slots=True)
class Decoded:
    """What one set of registers says: measurements plus the summary the agent needs."""

    medidas: tuple[tuple[str, Measurement], ...]
    energia_wh: float | None
    potencia_w: float | None
    # Fields present but out of their valid range (or NaN), for the agent's status.
    invalidos: tuple[str, ...] = ()


def decode_raw(datatype: str, words: Sequence[int], word_order: str = "big") -> int | float:
    """Registers (16-bit words, as read) to the raw number they hold."""
    if len(words) != DATATYPES[datatype]:
        raise ValueError(f"{datatype} takes {DATATYPES[datatype]} registers, got {len(words)}")
    ordered = list(words) if word_order == "big" else list(reversed(words))
    data = b"".join(int(w & 0xFFFF).to_bytes(2, "big") for w in ordered)
    return struct.unpack(">" + _STRUCT[datatype], data)[0]


def encode_raw(datatype: str, raw: int | float, word_order: str = "big") -> tuple[int, ...]:
    """A raw number to the registers that hold it (inverse of decode_raw); ValueError if it does not fit."""
    if datatype in _INT_RANGE:
        low, high = _INT_RANGE[datatype]
        if not (isinstance(raw, int) and low <= raw <= high):
            raise ValueError(f"{raw!r} does not fit {datatype}")
    data = struct.pack(">" + _STRUCT[datatype], raw)
    words = tuple(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    return words if word_order == "big" else tuple(reversed(words))


def step(field: Field, exponent: int) -> float:
    """Value of one raw unit of `field` given its scale exponent."""
    return field.factor * 10.0 ** exponent


def scale_exponents(regmap: RegisterMap, words: Words) -> dict[str, int]:
    """Read each scale register; a missing or out-of-range one makes every reading suspect."""
    exponents: dict[str, int] = {}
    for scale in regmap.scales:
        key = (scale.function, scale.register)
        if key not in words:
            raise DeviceProtocolError(f"registrador de escala {scale.register} ({scale.name}) não foi lido")
        exponent = int(decode_raw("int16", [words[key]]))
        if not scale.min_exp <= exponent <= scale.max_exp:
            raise DeviceProtocolError(
                f"registrador de escala {scale.register} ({scale.name}) = {exponent}, "
                f"fora de {scale.min_exp}…{scale.max_exp}: configuração do medidor ou leitura corrompida")
        exponents[scale.name] = exponent
    return exponents


def decode_map(regmap: RegisterMap, words: Words) -> Decoded:
    """Decode every field whose registers are present; absent fields are simply left out.

    Raises DeviceProtocolError when a scale register is missing or implausible.
    """
    exponents = scale_exponents(regmap, words)
    parts: list[tuple[Target, float]] = []
    invalid: list[str] = []
    for field in regmap.fields:
        keys = [(field.function, field.register + i) for i in range(field.words)]
        if not all(key in words for key in keys):
            continue
        raw = decode_raw(field.datatype, [words[key] for key in keys], field.word_order)
        value = field_value(field, raw, exponents.get(field.scale, 0) if field.scale else 0)
        if value is None:
            invalid.append(field.label)
        else:
            parts.append((field.target, value))
    medidas = assemble(parts, regmap.phases())
    return summarize(medidas, tuple(invalid))


def field_value(field: Field, raw: int | float, exponent: int) -> float | None:
    """Scaled value of one raw reading, or None when the device flags it invalid."""
    if not math.isfinite(raw):
        return None
    if field.raw_min is not None and raw < field.raw_min:
        return None
    if field.raw_max is not None and raw > field.raw_max:
        return None
    unit = step(field, exponent)
    value = raw * unit
    if field.datatype == "float32" or value == 0:
        return float(value)
    digits = max(0, -math.floor(math.log10(abs(unit)))) + _EXTRA_DIGITS
    return float(round(value, digits))


def assemble(parts: Iterable[tuple[Target, float]], phases: Mapping[str, int]) -> tuple[tuple[str, Measurement], ...]:
    """(target, value) pairs to sorted medidas; a per-phase code missing any phase is left out.

    A tuple with a hole would shift every later phase to the wrong wire, so a code is reported
    whole or not at all.
    """
    scalars: dict[str, float] = {}
    phased: dict[str, dict[int, float]] = {}
    for target, value in parts:
        if target.phase is None:
            scalars[target.code] = value
        else:
            phased.setdefault(target.code, {})[target.phase] = value
    out: dict[str, Measurement] = dict(scalars)
    for code, values in phased.items():
        count = phases.get(code, 0)
        if count and len(values) == count:
            out[code] = tuple(values[i] for i in range(count))
    return tuple(sorted(out.items()))


def summarize(medidas: tuple[tuple[str, Measurement], ...], invalid: tuple[str, ...] = ()) -> Decoded:
    """Derive the energy counter (CEA kWh → Wh) and total power (PAT, else the sum of PAF)."""
    found = dict(medidas)
    cea = found.get("CEA")
    energia = float(cea) * 1000.0 if isinstance(cea, float) else None
    pat = found.get("PAT")
    paf = found.get("PAF")
    if isinstance(pat, float):
        potencia: float | None = pat
    elif isinstance(paf, tuple):
        potencia = float(sum(paf))
    else:
        potencia = None
    return Decoded(medidas, energia, potencia, invalid)


def encode_map(regmap: RegisterMap, values: Mapping[str, Measurement],
               exponents: Mapping[str, int]) -> dict[tuple[int, int], int]:
    """Registers that a device holding `values` would show (simulators and round-trip tests).

    Codes absent from `values` leave their registers at 0; ValueError if a value does not fit its
    datatype at the given exponent (choose a larger exponent).
    """
    words: dict[tuple[int, int], int] = {}
    for scale in regmap.scales:
        words[(scale.function, scale.register)] = encode_raw("int16", int(exponents[scale.name]))[0]
    for field in regmap.fields:
        value = values.get(field.target.code)
        if isinstance(value, tuple):
            value = value[field.target.phase] if field.target.phase is not None \
                and field.target.phase < len(value) else None
        elif field.target.phase is not None and value is not None:
            value = None  # a scalar offered for a per-phase code fills no phase
        if value is None:
            raw: int | float = 0.0 if field.datatype == "float32" else 0
        else:
            raw_float = value / step(field, exponents[field.scale] if field.scale else 0)
            raw = raw_float if field.datatype == "float32" else int(round(raw_float))
        for i, word in enumerate(encode_raw(field.datatype, raw, field.word_order)):
            words[(field.function, field.register + i)] = word
    return words
