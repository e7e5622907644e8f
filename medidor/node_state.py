"""What the control port sees of one agent and asks of it: whether it runs, whether its device
answers, the last values read; a forced read and a new configuration, picked up by the measuring
loop at its next turn (so the loop stays the only thread that touches the source).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from dataclasses import replace
from typing import Any

from medidor.config import AgentConfig
from medidor.recording import WindowAverager
from medidor.resume import interval_ms
from medidor.sources import Measurement, Source

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


def apply_live_settings(agent: Any, new: AgentConfig, source: Source) -> int:
    """RELOAD's live settings (LIVE_FIELDS) on a running agent, from its measuring thread;
    returns the new interval in ms. A changed recording period starts a new window."""
    old = agent.config
    agent.config = replace(old, intervalo_s=new.intervalo_s, codigos=new.codigos, gravacao_min=new.gravacao_min)
    if new.gravacao_min != old.gravacao_min:
        agent._averager = WindowAverager(new.gravacao_min, agent.tz) if new.gravacao_min else None
    set_codes = getattr(source, "set_codes", None)
    if set_codes is not None:
        set_codes(new.codigos)
    logging.getLogger("medidor").info(
        "%s: configuração relida: leitura a cada %g s, gravação %s, medidas %s", old.medidor, new.intervalo_s,
        f"{new.gravacao_min} min" if new.gravacao_min else "a cada leitura",
        ",".join(new.codigos) if new.codigos else "todas")
    return interval_ms(agent.config)
