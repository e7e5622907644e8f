"""What a person or the server changes while the agent runs: pause, consumption multiplier and
the local alert limit, from the keyboard or from the server's remote commands.

Called from any thread (keyboard, sender, signal handlers); the measuring loop only reads.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Callable

from medidor.month import MonthTracker
from medidor.server_api import RemoteCommand
from medidor.sources import Source
from medidor.status import StatusBoard

log = logging.getLogger("medidor")

# Command ids remembered to apply each once; the server keeps at most 50 pending per meter.
APPLIED_IDS_KEPT = 200
# Changes from the keyboard: one press raises or lowers consumption by this factor.
KEY_STEP = 1.25


class Controls:
    """The agent's live settings. `attach` the source, month tracker and the sender's
    notification once they exist; changes made before reach them then."""

    def __init__(self, meter_id: str, *, multiplier: float, limit_kwh: float, status: StatusBoard,
                 message: Callable[[str], None]) -> None:
        self._meter_id = meter_id
        self._status = status
        self._message = message
        self._lock = threading.Lock()
        self._paused = False
        self._multiplier = multiplier
        self._limit = limit_kwh
        self._source: Source | None = None
        self._tracker: MonthTracker | None = None
        self._fields_changed: Callable[[], None] = lambda: None
        self._applied: deque[str] = deque(maxlen=APPLIED_IDS_KEPT)

    def attach(self, *, source: Source | None = None, tracker: MonthTracker | None = None,
               fields_changed: Callable[[], None] | None = None) -> None:
        with self._lock:
            if source is not None:
                self._source = source
            if tracker is not None:
                self._tracker = tracker
            if fields_changed is not None:
                self._fields_changed = fields_changed

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def multiplier(self) -> float:
        return self._multiplier

    @property
    def limit_kwh(self) -> float:
        return self._limit

    def set_paused(self, paused: bool, why: str) -> None:
        with self._lock:
            if paused == self._paused:
                return
            self._paused = paused
        self._status.update(pausado=paused)
        self._message(f"{self._meter_id}: {'pausado' if paused else 'medindo de novo'} ({why})")

    def toggle_pause(self) -> None:
        self.set_paused(not self._paused, "teclado")

    def scale_multiplier(self, factor: float) -> None:
        """Keyboard + / -: consumption up or down by `factor`; the server is told."""
        self.set_multiplier(round(self._multiplier * factor, 4), "teclado")
        self._fields_changed()

    def set_multiplier(self, value: float, why: str) -> None:
        with self._lock:
            self._multiplier = value
            if self._source is not None:
                self._source.set_multiplier(value)
        self._status.update(multiplicador=value)
        self._message(f"{self._meter_id}: multiplicador {value:g} ({why})")

    def set_limit(self, value: float, why: str) -> None:
        with self._lock:
            self._limit = value
            if self._tracker is not None:
                self._tracker.set_limit(value)
        self._message(f"{self._meter_id}: limite de alerta {value:g} kWh/mês ({why})")

    def apply_commands(self, commands: tuple[RemoteCommand, ...]) -> None:
        """The server's remote commands, in the order they were queued; each id applied once
        (a command seen while polling comes again in the next ingest answer)."""
        for command in commands:
            if command.id:
                if command.id in self._applied:
                    continue
                self._applied.append(command.id)
            if command.comando == "pausar":
                self.set_paused(True, "comando do servidor")
            elif command.comando == "retomar":
                self.set_paused(False, "comando do servidor")
            elif command.comando == "multiplicador" and command.valor:
                self.set_multiplier(command.valor, "comando do servidor")
            elif command.comando == "limite" and command.valor:
                self.set_limit(command.valor, "comando do servidor")
            else:
                log.warning("%s: comando desconhecido ignorado: %s", self._meter_id, command)

    def on_meter(self, view: dict) -> None:
        """The meter's record as the server has it: a meter paused there stays paused here."""
        if view.get("estado") == "pausado":
            self.set_paused(True, "o servidor marca o medidor como pausado")
