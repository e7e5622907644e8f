"""Loading and validating the per-model map files in `drivers/maps/` (TOML).

A map file is the only thing a newcomer writes to support a new Modbus meter: registers as the
manual numbers them, the unit the manual gives, a fixed factor and/or a scale register, and the
measurement code (and phase) each one feeds. Every mistake is reported with the file and the
field, in pt-BR, because it reaches whoever runs `medidor`.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from shared.models import MEASUREMENT_CODES, MAX_VALUES_PER_CODE

from .base import ConfigError

MAPS_DIR = Path(__file__).parent / "maps"

DATATYPES: dict[str, int] = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
FUNCTIONS = (3, 4)  # FC03 holding registers, FC04 input registers: all these meters expose
WORD_ORDERS = ("big", "little")
# Modbus application protocol v1.1b3 §6.3/§6.4: FC03/FC04 read at most 125 registers at once.
MAX_READ_REGISTERS = 125
# Scale registers hold a signed power of ten; PM710 documents −4…4. Wider bounds are allowed in
# a map, but never beyond what a float can take without turning a register glitch into ±inf.
SCALE_EXPONENT_LIMIT = 30

# Units a map may state, as (unit of the measurement code, multiplier). The map says what the
# manual says ("kW") and the loader folds the conversion to the code's unit ("W") into the factor.
UNITS: dict[str, tuple[str, float]] = {
    "V": ("V", 1.0), "kV": ("V", 1000.0),
    "A": ("A", 1.0), "mA": ("A", 0.001), "kA": ("A", 1000.0),
    "Hz": ("Hz", 1.0),
    "W": ("W", 1.0), "kW": ("W", 1000.0), "MW": ("W", 1e6),
    "VA": ("VA", 1.0), "kVA": ("VA", 1000.0), "MVA": ("VA", 1e6),
    "var": ("var", 1.0), "kvar": ("var", 1000.0), "Mvar": ("var", 1e6),
    "": ("", 1.0),
    "%": ("%", 1.0),
    "Wh": ("kWh", 0.001), "kWh": ("kWh", 1.0), "MWh": ("kWh", 1000.0),
    "varh": ("kvarh", 0.001), "kvarh": ("kvarh", 1.0), "Mvarh": ("kvarh", 1000.0),
}

_TOP_KEYS = {"protocol", "model", "description", "notes", "register_base", "max_gap", "max_read",
             "defaults", "scales", "fields"}
_FIELD_KEYS = {"code", "phase", "register", "type", "unit", "factor", "scale", "function",
               "word_order", "raw_min", "raw_max", "optional"}
_DEFAULT_KEYS = _FIELD_KEYS - {"code", "phase", "register"}
_SCALE_KEYS = {"register", "function", "min", "max"}


class MapError(ConfigError):
    """A map file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a value lands: a measurement code and, for per-phase codes, the phase index."""

    code: str
    phase: int | None


@dataclass(frozen=True, slots=True)
class ScaleRegister:
    """A register holding a signed power of ten that multiplies the fields referring to it."""

    name: str
    function: int
    register: int
    min_exp: int
    max_exp: int


@dataclass(frozen=True, slots=True)
class Field:
    """One mapped value: raw = register contents; value = raw × factor × 10^scale."""

    target: Target
    function: int
    register: int
    datatype: str
    word_order: str
    factor: float  # includes the unit conversion to the code's unit
    scale: str | None
    raw_min: float | None
    raw_max: float | None
    optional: bool

    @property
    def words(self) -> int:
        return DATATYPES[self.datatype]

    @property
    def label(self) -> str:
        phase = "" if self.target.phase is None else f"[{self.target.phase}]"
        return f"{self.target.code}{phase} (registro {self.register})"


@dataclass(frozen=True, slots=True)
class RegisterMap:
    """A Modbus model: its fields and scale registers, in the manual's numbering."""

    model: str
    description: str
    source: str
    register_base: int
    max_gap: int
    max_read: int
    scales: tuple[ScaleRegister, ...]
    fields: tuple[Field, ...]

    def scale(self, name: str) -> ScaleRegister:
        for scale in self.scales:
            if scale.name == name:
                return scale
        raise KeyError(name)

    def phases(self) -> dict[str, int]:
        """Number of phases of each per-phase code (0 for scalar codes)."""
        out: dict[str, int] = {}
        for field in self.fields:
            code, phase = field.target.code, field.target.phase
            out[code] = max(out.get(code, 0), 0 if phase is None else phase + 1)
        return out

    def wire_address(self, register: int) -> int:
        return register - self.register_base


def available_models() -> tuple[str, ...]:
    """Model names with a map file in MAPS_DIR."""
    return tuple(sorted(path.stem for path in MAPS_DIR.glob("*.toml")))


def find_map_file(model: str) -> Path:
    """A model name ("pm710", any case) in MAPS_DIR, or a path to a .toml file."""
    if model.endswith(".toml") or "/" in model or "\\" in model:
        path = Path(model)
    else:
        path = MAPS_DIR / f"{model.lower()}.toml"
    if not path.is_file():
        known = ", ".join(available_models())
        raise MapError(f"modelo {model!r} sem mapa ({path}); modelos conhecidos: {known}")
    return path


def read_map_document(model: str) -> tuple[Path, dict[str, Any]]:
    """Parse a map file's TOML; syntax errors become MapError naming the file."""
    path = find_map_file(model)
    try:
        with path.open("rb") as handle:
            return path, tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise MapError(f"{path.name}: TOML inválido: {exc}") from None
    except OSError as exc:
        raise MapError(f"{path.name}: não foi possível ler: {exc.strerror}") from None


def load_register_map(model: str) -> RegisterMap:
    """Load and validate a Modbus map by model name or path; raises MapError."""
    path, doc = read_map_document(model)
    return parse_register_map(doc, path.name)


def parse_register_map(doc: Mapping[str, Any], where: str) -> RegisterMap:
    """Validate a parsed map document (`where` names it in errors)."""
    _no_unknown_keys(doc, _TOP_KEYS, where)
    if doc.get("protocol", "modbus") != "modbus":
        raise MapError(f"{where}: protocol = {doc.get('protocol')!r}, esperado \"modbus\"")
    model = _get(doc, "model", str, where, default=Path(where).stem)
    base = _get(doc, "register_base", int, where, default=1)
    if base not in (0, 1):
        raise MapError(f"{where}: register_base deve ser 0 ou 1")
    max_gap = _get(doc, "max_gap", int, where, default=0)
    max_read = _get(doc, "max_read", int, where, default=MAX_READ_REGISTERS)
    if not 0 <= max_gap < MAX_READ_REGISTERS:
        raise MapError(f"{where}: max_gap deve estar entre 0 e {MAX_READ_REGISTERS - 1}")
    if not 1 <= max_read <= MAX_READ_REGISTERS:
        raise MapError(f"{where}: max_read deve estar entre 1 e {MAX_READ_REGISTERS}")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise MapError(f"{where}: [defaults] deve ser uma tabela")
    _no_unknown_keys(defaults, _DEFAULT_KEYS, f"{where}: [defaults]")

    scales_doc = doc.get("scales", {})
    if not isinstance(scales_doc, dict):
        raise MapError(f"{where}: [scales] deve ser uma tabela de nome → registrador")
    default_fn = defaults.get("function", 3)
    scales = tuple(_parse_scale(name, entry, default_fn, base, f"{where}: scales.{name}")
                   for name, entry in scales_doc.items())

    fields_doc = doc.get("fields")
    if not isinstance(fields_doc, list) or not fields_doc:
        raise MapError(f"{where}: falta a lista [[fields]]")
    fields = tuple(_parse_field({**defaults, **entry} if isinstance(entry, dict) else entry,
                                base, {s.name for s in scales}, f"{where}: fields[{i}]")
                   for i, entry in enumerate(fields_doc))
    _check_targets(fields, where)
    _check_overlaps(scales, fields, where)
    for field in fields:
        if field.words > max_read:
            raise MapError(f"{where}: {field.label} não cabe em max_read = {max_read}")
    description = _get(doc, "description", str, where, default=model)
    return RegisterMap(model, description, where, base, max_gap, max_read, scales, fields)


def unit_factor(code: str, unit: str, where: str) -> float:
    """Multiplier from `unit` to the unit of `code`; MapError if they measure different things."""
    if unit not in UNITS:
        raise MapError(f"{where}: unidade {unit!r} desconhecida; use uma de {', '.join(u for u in UNITS if u)}")
    base_unit, multiplier = UNITS[unit]
    if base_unit != MEASUREMENT_CODES[code]:
        raise MapError(f"{where}: {code} é medido em {MEASUREMENT_CODES[code] or 'número puro'}, "
                       f"não em {unit or 'número puro'}")
    return multiplier


def parse_target(entry: Mapping[str, Any], where: str) -> Target:
    """The `code` and optional `phase` keys of a field."""
    code = entry.get("code")
    if code not in MEASUREMENT_CODES:
        raise MapError(f"{where}: code {code!r} desconhecido; use um de {', '.join(MEASUREMENT_CODES)}")
    phase = entry.get("phase")
    if phase is not None and (isinstance(phase, bool) or not isinstance(phase, int)
                              or not 0 <= phase < MAX_VALUES_PER_CODE):
        raise MapError(f"{where}: phase deve ser um inteiro de 0 a {MAX_VALUES_PER_CODE - 1}")
    return Target(code, phase)


def check_targets(targets: list[Target], where: str) -> None:
    """Each code is either scalar or per-phase with phases 0..n−1, each phase mapped once."""
    by_code: dict[str, list[int | None]] = {}
    for target in targets:
        by_code.setdefault(target.code, []).append(target.phase)
    for code, phases in by_code.items():
        if None in phases:
            if len(phases) > 1:
                raise MapError(f"{where}: {code} aparece mais de uma vez (ou com e sem phase)")
            continue
        if sorted(phases) != list(range(len(phases))):  # type: ignore[type-var]
            raise MapError(f"{where}: as fases de {code} devem ser 0..{len(phases) - 1}, sem repetir; "
                           f"há {sorted(phases)}")  # type: ignore[type-var]


def _parse_scale(name: str, entry: Any, default_fn: int, base: int, where: str) -> ScaleRegister:
    if isinstance(entry, int) and not isinstance(entry, bool):
        entry = {"register": entry}
    if not isinstance(entry, dict):
        raise MapError(f"{where}: deve ser um registrador ou uma tabela {{register = …}}")
    _no_unknown_keys(entry, _SCALE_KEYS, where)
    register = _register(entry, base, 1, where)
    function = _function(entry.get("function", default_fn), where)
    low = _get(entry, "min", int, where, default=-4)
    high = _get(entry, "max", int, where, default=4)
    if not -SCALE_EXPONENT_LIMIT <= low <= high <= SCALE_EXPONENT_LIMIT:
        raise MapError(f"{where}: min/max fora de ±{SCALE_EXPONENT_LIMIT} ou invertidos")
    return ScaleRegister(name, function, register, low, high)


def _parse_field(entry: Any, base: int, scale_names: set[str], where: str) -> Field:
    if not isinstance(entry, dict):
        raise MapError(f"{where}: cada campo deve ser uma tabela")
    _no_unknown_keys(entry, _FIELD_KEYS, where)
    target = parse_target(entry, where)
    datatype = entry.get("type")
    if datatype not in DATATYPES:
        raise MapError(f"{where}: type {datatype!r} desconhecido; use {', '.join(DATATYPES)}")
    register = _register(entry, base, DATATYPES[datatype], where)
    where = f"{where} (registro {register})"
    function = _function(entry.get("function", 3), where)
    word_order = entry.get("word_order", "big")
    if word_order not in WORD_ORDERS:
        raise MapError(f"{where}: word_order deve ser \"big\" ou \"little\"")
    unit = _get(entry, "unit", str, where, default=MEASUREMENT_CODES[target.code])
    factor = entry.get("factor", 1.0)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) \
            or not math.isfinite(factor) or factor == 0:
        raise MapError(f"{where}: factor deve ser um número finito diferente de zero")
    scale = entry.get("scale")
    if scale is not None and scale not in scale_names:
        raise MapError(f"{where}: scale {scale!r} não está em [scales] ({', '.join(sorted(scale_names)) or 'vazio'})")
    raw_min = _bound(entry, "raw_min", where)
    raw_max = _bound(entry, "raw_max", where)
    if raw_min is not None and raw_max is not None and raw_min > raw_max:
        raise MapError(f"{where}: raw_min maior que raw_max")
    optional = entry.get("optional", False)
    if not isinstance(optional, bool):
        raise MapError(f"{where}: optional deve ser true ou false")
    return Field(target, function, register, datatype, word_order,
                 float(factor) * unit_factor(target.code, unit, where), scale,
                 raw_min, raw_max, optional)


def _check_targets(fields: tuple[Field, ...], where: str) -> None:
    check_targets([f.target for f in fields], where)


def _check_overlaps(scales: tuple[ScaleRegister, ...], fields: tuple[Field, ...], where: str) -> None:
    owner: dict[tuple[int, int], str] = {}
    spans = [(s.function, s.register, 1, f"escala {s.name} (registro {s.register})") for s in scales]
    spans += [(f.function, f.register, f.words, f.label) for f in fields]
    for function, register, words, label in spans:
        for reg in range(register, register + words):
            if (function, reg) in owner:
                raise MapError(f"{where}: registro {reg} usado por {owner[(function, reg)]} e por {label}")
            owner[(function, reg)] = label


def _register(entry: Mapping[str, Any], base: int, words: int, where: str) -> int:
    register = entry.get("register")
    if isinstance(register, bool) or not isinstance(register, int):
        raise MapError(f"{where}: falta register (inteiro)")
    if not base <= register <= 65535 + base - words + 1:
        raise MapError(f"{where}: register {register} fora de {base}..{65535 + base - words + 1}")
    return register


def _function(value: Any, where: str) -> int:
    if value not in FUNCTIONS or isinstance(value, bool):
        raise MapError(f"{where}: function deve ser 3 (holding) ou 4 (input)")
    return int(value)


def _bound(entry: Mapping[str, Any], key: str, where: str) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MapError(f"{where}: {key} deve ser um número")
    return float(value)


def _get(doc: Mapping[str, Any], key: str, kind: type, where: str, *, default: Any) -> Any:
    value = doc.get(key, default)
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise MapError(f"{where}: {key} deve ser {'inteiro' if kind is int else 'texto'}")
    return value


def _no_unknown_keys(doc: Mapping[str, Any], allowed: set[str], where: str) -> None:
    # A typo ("regsiter") silently falling back to a default would read the wrong register.
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise MapError(f"{where}: chave desconhecida {', '.join(unknown)}; aceitas: {', '.join(sorted(allowed))}")
