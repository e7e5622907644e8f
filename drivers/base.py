"""What every driver exchanges with the agent: a sample, the errors, the device contract, its config.

The agent owns the retry loop: `Device.read()` is one attempt that either returns a `Sample` or
raises a `DeviceError` subclass, whose message (pt-BR) goes straight to the agent's status line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shared.models import MEASUREMENT_CODES, MAX_VALUES_PER_CODE

Measurement = float | tuple[float, ...]

# Sources the agent may configure; `open_device` maps each to its driver module.
SOURCES = ("modbus", "cirbus", "pulsos")
PARITIES = ("N", "E", "O", "M", "S")
BYTE_SIZES = (5, 6, 7, 8)
# Modbus unit ids 1..247 address a device (0 is broadcast, 248..255 reserved: Modbus
# over serial line v1.02 §2.2). Modbus TCP gateways accept 0 and 255 too, so allow 0..255.
MAX_UNIT_ID = 255
# A timeout beyond this is a misconfiguration: the agent's status would freeze for minutes.
MAX_TIMEOUT_S = 60.0


class DeviceError(Exception):
    """A read or an open that failed; the device may come back, so the agent retries."""


class DeviceTimeout(DeviceError):
    """The device did not answer within the timeout (wrong address, dead bus, busy device)."""


class DeviceProtocolError(DeviceError):
    """The device answered with something unusable: bad CRC/checksum, garbage, an exception reply."""


class DeviceDisconnected(DeviceError):
    """The transport is gone: cable unplugged, serial port missing, connection refused or reset."""


class ConfigError(ValueError):
    """A configuration that can never work (unknown model, bad parity); retrying will not help."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One read of one device.

    `medidas` holds (code, value) pairs sorted by code, in the units of
    `shared.models.MEASUREMENT_CODES` (PAT in W, CEA in kWh). `energia_wh` is the device's own
    cumulative counter (CEA × 1000, or the pulse count) and None when it has none; the agent then
    integrates `potencia_w` with `EnergyIntegrator` and marks the reading estimated.
    `pulsos` lists the blinks seen since the previous read as (stamp_ms, interval_ms) points, the
    blipserver format; empty for other sources.
    """

    ts_ms: int
    medidas: tuple[tuple[str, Measurement], ...]
    energia_wh: float | None
    potencia_w: float | None
    pulsos: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        codes = [code for code, _ in self.medidas]
        if codes != sorted(set(codes)):
            raise ValueError("medidas must be sorted by code, one entry per code")
        for code, value in self.medidas:
            if code not in MEASUREMENT_CODES:
                raise ValueError(f"unknown measurement code {code!r}")
            values = value if isinstance(value, tuple) else (value,)
            if not 1 <= len(values) <= MAX_VALUES_PER_CODE:
                raise ValueError(f"{code}: 1 to {MAX_VALUES_PER_CODE} values")
            if not all(isinstance(v, float) and math.isfinite(v) for v in values):
                raise ValueError(f"{code}: values must be finite floats")
        for name in ("energia_wh", "potencia_w"):
            number = getattr(self, name)
            if number is not None and not math.isfinite(number):
                raise ValueError(f"{name} must be finite")

    def medida(self, code: str) -> Measurement | None:
        """The value of one code, or None when this sample does not carry it."""
        for key, value in self.medidas:
            if key == code:
                return value
        return None


@runtime_checkable
class Device(Protocol):
    """A meter the agent polls. Implementations are used from one thread at a time."""

    def read(self) -> Sample:
        """One attempt at a sample; raises only `DeviceError` subclasses."""
        ...

    def close(self) -> None:
        """Release the port or connection; idempotent."""
        ...


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """Where and how to reach one device; validated when built (raises ConfigError)."""

    fonte: str
    modelo: str | None = None
    porta: str | None = None
    baud: int = 9600
    paridade: str = "N"
    bits: int = 8
    timeout_s: float = 1.0
    endereco: int = 1
    host: str | None = None
    tcp_porta: int = 502
    pulsos_por_kwh: float = 1000.0
    sensor: str | None = None

    def __post_init__(self) -> None:
        if self.fonte not in SOURCES:
            raise ConfigError(f"fonte desconhecida {self.fonte!r}; use {', '.join(SOURCES)}")
        if self.paridade not in PARITIES:
            raise ConfigError(f"paridade {self.paridade!r} inválida; use {', '.join(PARITIES)}")
        if self.bits not in BYTE_SIZES:
            raise ConfigError(f"bits {self.bits!r} inválido; use 5, 6, 7 ou 8")
        if isinstance(self.baud, bool) or not isinstance(self.baud, int) or self.baud <= 0:
            raise ConfigError("baud deve ser um inteiro positivo")
        if not (isinstance(self.timeout_s, (int, float)) and 0 < self.timeout_s <= MAX_TIMEOUT_S):
            raise ConfigError(f"timeout_s deve estar entre 0 e {MAX_TIMEOUT_S:g} s")
        if isinstance(self.endereco, bool) or not isinstance(self.endereco, int) \
                or not 0 <= self.endereco <= MAX_UNIT_ID:
            raise ConfigError(f"endereço deve ser um inteiro de 0 a {MAX_UNIT_ID}")
        if not 0 < self.tcp_porta < 65536:
            raise ConfigError("tcp_porta deve estar entre 1 e 65535")
        if not (math.isfinite(self.pulsos_por_kwh) and self.pulsos_por_kwh > 0):
            raise ConfigError("pulsos_por_kwh deve ser um número positivo")
        if self.fonte == "modbus":
            if self.modelo is None:
                raise ConfigError("Modbus precisa de um modelo (mapa de registradores), ex.: pm710")
            if (self.host is None) == (self.porta is None):
                raise ConfigError("Modbus precisa de host (Modbus TCP) ou porta (RTU), não ambos")
        elif self.porta is None:
            raise ConfigError(f"a fonte {self.fonte} precisa de uma porta serial, ex.: /dev/ttyUSB0")
        if self.fonte == "cirbus" and not 0 <= self.endereco <= 99:
            raise ConfigError("o endereço CIRBUS tem dois dígitos: 0 a 99")

    @property
    def onde(self) -> str:
        """Where the device is, for status messages."""
        return f"{self.host}:{self.tcp_porta}" if self.host is not None else str(self.porta)
