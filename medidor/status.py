"""The agent's status: updated by its threads, shown as one line.

In a terminal the line is redrawn in place and log messages are printed above it; elsewhere
(a service, a container) it is logged every STATUS_LOG_EVERY_S.
"""
from __future__ import annotations

import shutil
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, TextIO

from shared.models import format_timestamp

# Without a terminal the status goes to the log this often: enough to see progress, not noise.
STATUS_LOG_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    medidor: str
    fonte: str = ""
    seq: int | None = None
    pendentes: int = 0
    spool_pct: float = 0.0
    ultimo_ack: float | None = None       # wall clock (time.time()) of the last acknowledged batch
    enviadas: int = 0                     # readings acknowledged during this run
    servidor: str = "conectando"
    dispositivo: str = "ok"
    potencia_w: float | None = None
    mes_kwh: float | None = None
    multiplicador: float = 1.0
    pausado: bool = False
    tempo_simulado_ms: int | None = None  # set while simulated time lags the real clock
    fuso: Any = None


class StatusBoard:
    """A lock-guarded StatusSnapshot: each thread updates its fields, the console reads it."""

    def __init__(self, medidor: str, **fields: Any) -> None:
        self._lock = threading.Lock()
        self._snapshot = StatusSnapshot(medidor, **fields)

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._snapshot = replace(self._snapshot, **fields)

    def snapshot(self) -> StatusSnapshot:
        with self._lock:
            return self._snapshot


def render(s: StatusSnapshot, now: float | None = None) -> str:
    """One pt-BR status line."""
    now = time.time() if now is None else now
    parts = [s.medidor]
    if s.pausado:
        parts.append("PAUSADO")
    parts.append(f"seq {s.seq if s.seq is not None else '-'}")
    backlog = f"spool {s.pendentes}"
    if s.spool_pct >= 1:
        backlog += f" ({s.spool_pct:.0f}% cheio)"
    parts.append(backlog)
    if s.ultimo_ack is None:
        parts.append("nada confirmado ainda")
    else:
        parts.append(f"confirmado há {_ago(now - s.ultimo_ack)}")
    parts.append(f"servidor: {s.servidor}")
    parts.append(f"{s.fonte}: {s.dispositivo}" if s.fonte else f"dispositivo: {s.dispositivo}")
    if s.potencia_w is not None:
        parts.append(f"{s.potencia_w:,.0f} W".replace(",", "."))
    if s.mes_kwh is not None:
        parts.append(f"mês {s.mes_kwh:,.1f} kWh".replace(",", "X").replace(".", ",").replace("X", "."))
    if s.multiplicador != 1.0:
        parts.append(f"×{s.multiplicador:g}")
    if s.tempo_simulado_ms is not None:
        parts.append(f"tempo simulado {format_timestamp(s.tempo_simulado_ms, s.fuso)[:16].replace('T', ' ')}")
    return " | ".join(parts)


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Console:
    """Owns the terminal's last line. Messages go above the status line; thread-safe."""

    def __init__(self, stream: TextIO | None = None, *, interactive: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._lock = threading.Lock()
        self._line = ""

    def message(self, text: str) -> None:
        with self._lock:
            if self.interactive:
                # \r + "erase line" (ECMA-48 EL): the message replaces the status line, which
                # is then drawn again below it.
                self.stream.write(f"\r\x1b[K{text}\n{self._line}")
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def status(self, line: str) -> None:
        if not self.interactive:
            return
        # A line longer than the terminal wraps, and "erase line" then erases only its last
        # row: the status would scroll instead of being redrawn in place.
        width = shutil.get_terminal_size((120, 24)).columns - 1
        if len(line) > width:
            line = line[: max(width - 1, 0)] + "…"
        with self._lock:
            self._line = line
            self.stream.write(f"\r\x1b[K{line}")
            self.stream.flush()

    def finish(self) -> None:
        """Leave the status line on screen and move below it."""
        with self._lock:
            if self.interactive and self._line:
                self.stream.write("\n")
                self.stream.flush()
            self._line = ""
