"""What a source of readings gives the agent, before the agent numbers and spools it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from shared.models import Measurement as MeasurementValue


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measurement: the energy counter (Wh, only grows), power (W, signed: negative is
    export) and any other codes (TPF, IPF, …). `estimada`: the counter was integrated from power.
    `pulsos`: a pulse counter's blinks since the previous measurement, (stamp_ms, interval_ms)."""

    ts_ms: int
    energia_wh: float
    potencia_w: float | None = None
    medidas: tuple[tuple[str, MeasurementValue], ...] = ()
    estimada: bool = False
    pulsos: tuple[tuple[int, int], ...] = ()


class Source(Protocol):
    """A meter the agent reads. `measure` may raise the source's own errors (see agent.py)."""

    # Shown on the status line: "simulado", "modbus pm710", …
    description: str
    # True when `measure(ts_ms)` can compute any instant (simulated), so readings can be made
    # for past instants (history, catching up after a full spool); False for hardware, read now.
    replayable: bool

    def measure(self, ts_ms: int) -> Measurement: ...

    def set_multiplier(self, value: float) -> None: ...

    def close(self) -> None: ...


class PushSource(Protocol):
    """A meter that delivers readings as it makes them (MQTT): the agent takes what arrived,
    spools it, then confirms it, so that what is not yet on disk stays with the sender."""

    description: str
    replayable: bool
    push: bool
    # What the connection is doing, for the status line ("conectado", "sem conexão …").
    state: str

    def take(self, limit: int, timeout_s: float) -> list[Any]: ...

    def confirm(self, deliveries: list[Any]) -> None: ...

    def set_multiplier(self, value: float) -> None: ...

    def close(self) -> None: ...
