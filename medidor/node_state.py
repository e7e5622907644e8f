"""What the control port sees of one agent and asks of it: whether it runs, whether its device
answers, the last values read; a forced read and a new configuration, picked up by the measuring
loop at its next turn (so the loop stays the only thread that touches the source).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from medidor.config import AgentConfig
from medidor.sources import Measurement

# Settings RELOAD applies to a running agent; any other change needs a restart.
LIVE_FIELDS = ("intervalo_s", "codigos", "gravacao_min")


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    running: bool = False
    comm: bool | None = None          # None: nothing tried yet
    last_error: str | None = None
    last: Measurement | None = None   # the last read (before any averaging)


class NodeState:
    """Thread-safe: the measuring loop writes, the control port reads and requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._health = DeviceHealth()
        self._force = threading.Event()
        self._pending: AgentConfig | None = None

    @property
    def health(self) -> DeviceHealth:
        with self._lock:
            return self._health

    def _set(self, **changes: object) -> None:
        with self._lock:
            values = {name: getattr(self._health, name) for name in DeviceHealth.__slots__}
            values.update(changes)
            self._health = DeviceHealth(**values)  # type: ignore[arg-type]

    # -- written by the measuring loop -----------------------------------------------------------

    def running(self, value: bool) -> None:
        self._set(running=value)

    def read_ok(self, measurement: Measurement) -> None:
        self._set(comm=True, last=measurement)

    def read_failed(self, error: str) -> None:
        self._set(comm=False, last_error=error)

    def take_force(self) -> bool:
        if self._force.is_set():
            self._force.clear()
            return True
        return False

    def take_config(self) -> AgentConfig | None:
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    # -- asked by the control port ---------------------------------------------------------------

    def force(self) -> None:
        self._force.set()

    def reconfigure(self, config: AgentConfig) -> None:
        with self._lock:
            self._pending = config


def live_changes(old: AgentConfig, new: AgentConfig) -> list[str]:
    """The live settings that differ, by name."""
    return [name for name in LIVE_FIELDS if getattr(old, name) != getattr(new, name)]


def restart_changes(old: AgentConfig, new: AgentConfig) -> list[str]:
    """What changed that only a restart applies (device, source, server, state directory…)."""
    out = []
    for name in ("servidor", "estado", "fonte", "dispositivo", "fuso", "nome", "exportacoes"):
        if getattr(old, name) != getattr(new, name):
            out.append(name)
    return out
