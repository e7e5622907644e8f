"""What `servidor migrar` shows: its progress while it copies and checks, and the summary at the
end, stream by stream, source against destination."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

from servidor.data_cli import ProgressLine, thousands
from servidor.domain.readings_csv import Progress as Done
from servidor.store.migration import Figures
from servidor.store.side_migration import SideFigures

# Characters of a stream's digest shown in the summary: enough to tell two apart by eye.
SHOWN_DIGEST = 12
# Streams named in the one-line message of a failed check; the summary above lists them all.
NAMED_IN_MESSAGE = 5


class ProgressBar:
    """rich's bar on a terminal (stderr), a line per tenth when stderr is a file or a pipe,
    nothing when quiet."""

    def __init__(self, quiet: bool = False, out: TextIO | None = None) -> None:
        self._out = out or sys.stderr
        self._quiet = quiet
        self._bar: Any = None  # rich's Progress, imported on a terminal only
        self._task: Any = None
        self._line: ProgressLine | None = None
        self._done = self._total = 0
        self._started = time.monotonic()
        self._things = "leituras"

    def phase(self, description: str, total: int, things: str = "leituras") -> None:
        """Start counting `total` readings (or other `things`) under `description` (ending the
        phase before)."""
        self.end()
        self._done, self._total, self._started, self._things = 0, total, time.monotonic(), things
        if self._quiet:
            return
        if self._out.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[ritmo]}"), TimeRemainingColumn(),
                                 console=Console(file=self._out))
            self._bar.start()
            self._task = self._bar.add_task(description, total=total, ritmo="")
        else:
            self._line = ProgressLine(description, self._out, things)

    def advance(self, readings: int) -> None:
        self._done += readings
        elapsed = time.monotonic() - self._started
        if self._bar is not None:
            rate = f"{thousands(self._done / elapsed)} {self._things}/s" if elapsed > 0 else ""
            self._bar.update(self._task, advance=readings, ritmo=rate)
        elif self._line is not None:
            self._line(Done(self._done, self._done, self._total, elapsed))

    def end(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if self._line is not None:
            self._line.end()
            self._line = None


def _kwh(wh: float) -> str:
    return f"{wh / 1000:,.3f}".replace(",", "_").replace(".", ",").replace("_", ".")


def _rate(count: int, seconds: float, things: str) -> str:
    return f"{thousands(count / seconds)} {things}/s" if seconds > 0 else "—"


def _differing(source: dict[str, Any], destination: dict[str, Any]) -> list[str]:
    """The keys whose figures differ between the sides, or that are on one side only."""
    return [k for k in sorted(source.keys() | destination.keys())
            if k not in source or k not in destination or not source[k].same_as(destination[k])]


@dataclass
class Copied:
    """Of one kind (readings, blinks, events): how many were read from the source, how many of
    them this run wrote (the rest were there from an earlier run), in how long."""

    read: int = 0
    written: int = 0
    seconds: float = 0.0

    def add(self, read: int, written: int) -> None:
        self.read += read
        self.written += written


@dataclass
class Summary:
    """Both sides' figures (readings and blinks per stream, the events, the documents), and what
    the copy did and took."""

    source_place: str
    destination_place: str
    resumed: bool
    deleted: int
    source: dict[str, Figures] = field(default_factory=dict)
    destination: dict[str, Figures] = field(default_factory=dict)
    blinks_source: dict[str, SideFigures] = field(default_factory=dict)
    blinks_destination: dict[str, SideFigures] = field(default_factory=dict)
    events_source: SideFigures | None = None
    events_destination: SideFigures | None = None
    copied: dict[str, Copied] = field(default_factory=lambda: {k: Copied() for k in ("leituras", "pulsos", "eventos")})
    check_s: float = 0.0
    tables: int = 0
    documents: int = 0
    documents_equal: bool = False
    deleted_missing: list[str] = field(default_factory=list)

    @property
    def differing(self) -> list[str]:
        """The streams whose readings or blinks differ (blinks as "pulsos de <stream>"), and the
        events, as "eventos"."""
        found = _differing(self.source, self.destination)
        found += [f"pulsos de {s}" for s in _differing(self.blinks_source, self.blinks_destination)]
        if self.events_source != self.events_destination:
            found.append("eventos")
        return found

    @property
    def ok(self) -> bool:
        return not self.differing and not self.deleted_missing and self.documents_equal

    def print(self, out: TextIO) -> None:
        lines = [f"origem:  {self.source_place}", f"destino: {self.destination_place}"
                 + (" (cópia retomada)" if self.resumed else "")]
        equal = "iguais no destino" if self.documents_equal else "DIFERENTES no destino"
        lines.append(f"documentos: {self.documents} em {self.tables} tabelas, {equal}")
        lines.append("leituras por fluxo (origem = destino): quantidade, soma de verificação, energia")
        lines += _rows(self.source, self.destination, _readings_cells, READING_COLUMNS)
        if self.blinks_source or self.blinks_destination:
            lines.append("pulsos por fluxo (origem = destino): quantidade, soma de verificação, último seq")
            lines += _rows(self.blinks_source, self.blinks_destination, _side_cells, BLINK_COLUMNS)
        events = {k: v for k, v in (("origem", self.events_source), ("destino", self.events_destination)) if v}
        if any(f.count for f in events.values()):
            lines.append("eventos do energy-sensors (origem = destino): quantidade, soma de verificação")
            lines += _rows({"eventos": self.events_source}, {"eventos": self.events_destination}, _side_cells,
                           EVENT_COLUMNS)
        if self.deleted:
            missing = f", {len(self.deleted_missing)} NÃO" if self.deleted_missing else ""
            lines.append(f"fluxos apagados: {self.deleted}, apagados também no destino{missing}")
        for kind, c in self.copied.items():
            if c.read:
                written = "gravadas" if kind == "leituras" else "gravados"
                lines.append(f"cópia de {kind}: {thousands(c.read)} na origem, {thousands(c.written)} {written} agora "
                             f"em {c.seconds:.1f} s ({_rate(c.written, c.seconds, kind)})")
        checked = (sum(f.readings for f in self.destination.values())
                   + sum(f.count for f in self.blinks_destination.values())
                   + (self.events_destination.count if self.events_destination else 0))
        lines.append(f"conferência: {thousands(checked)} itens no destino em {self.check_s:.1f} s "
                     f"({_rate(checked, self.check_s, 'itens')})")
        lines.append("migração concluída e conferida: o destino tem tudo o que a origem tinha" if self.ok
                     else "a conferência achou DIFERENÇAS: não use o destino")
        out.write("\n".join(lines) + "\n")

    def problem(self) -> str:
        """The failed check in one pt-BR sentence."""
        parts = []
        differing = self.differing
        if differing:
            named = ", ".join(differing[:NAMED_IN_MESSAGE]) + (" …" if len(differing) > NAMED_IN_MESSAGE else "")
            parts.append(f"{len(differing)} fluxo(s) diferem entre origem e destino ({named})")
        if self.deleted_missing:
            parts.append(f"{len(self.deleted_missing)} fluxo(s) apagados na origem não estão apagados no destino")
        if not self.documents_equal:
            parts.append("os documentos no destino não são os da origem")
        return ("a conferência falhou: " + "; ".join(parts) + ". Não use o destino (nenhum servidor inicia nele): "
                "corrija a causa e rode o mesmo comando de novo, ou esvazie o destino e copie do começo, com a "
                "origem parada")


def _rows(source: dict[str, Any], destination: dict[str, Any], cells: Callable[[Any], tuple[str, ...]],
          columns: tuple[tuple[str, str], ...]) -> list[str]:
    """One line per key, each column (label, unit) as `source = destination`, aligned, then ok or
    DIFERENTE."""
    keys = sorted(source.keys() | destination.keys())
    if not keys:
        return ["  (nenhum)"]
    table = [(key, cells(source.get(key)), cells(destination.get(key))) for key in keys]
    width = max((len(k) for k in keys), default=0)
    sizes = [max(len(c) for _, a, b in table for c in (a[i], b[i])) for i in range(len(columns))]
    differing = set(_differing(source, destination))
    lines = []
    for key, a, b in table:
        parts = [f"{label}{a[i]:>{sizes[i]}} = {b[i]:<{sizes[i]}}{unit}" for i, (label, unit) in enumerate(columns)]
        lines.append(f"  {key:<{width}}  " + "  ".join(parts) + ("  DIFERENTE" if key in differing else "  ok"))
    return lines


READING_COLUMNS = (("", ""), ("soma ", ""), ("", " kWh"))
BLINK_COLUMNS = (("", ""), ("soma ", ""), ("seq ", ""))
EVENT_COLUMNS = (("", ""), ("soma ", ""))


def _readings_cells(f: Figures | None) -> tuple[str, ...]:
    if f is None:
        return "ausente", "—", "—"
    wh = _kwh(f.wh) + (f" (−{_kwh(f.wh_exported)})" if f.wh_exported else "")
    return thousands(f.readings), f.digest[:SHOWN_DIGEST], wh


def _side_cells(f: SideFigures | None) -> tuple[str, ...]:
    if f is None:
        return "ausente", "—", "—"
    return thousands(f.count), f.digest[:SHOWN_DIGEST], "—" if f.watermark is None else str(f.watermark)
