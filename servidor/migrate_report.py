"""What `servidor migrar` shows: its progress while it copies and checks, and the summary at the
end, stream by stream, source against destination."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from servidor.data_cli import ProgressLine, thousands
from servidor.domain.readings_csv import Progress as Done
from servidor.store.migration import Figures

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

    def phase(self, description: str, total: int) -> None:
        """Start counting `total` readings under `description` (ending the phase before)."""
        self.end()
        self._done, self._total, self._started = 0, total, time.monotonic()
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
            self._line = ProgressLine(description, self._out)

    def advance(self, readings: int) -> None:
        self._done += readings
        elapsed = time.monotonic() - self._started
        if self._bar is not None:
            rate = f"{thousands(self._done / elapsed)} leituras/s" if elapsed > 0 else ""
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


def _rate(count: int, seconds: float) -> str:
    return f"{thousands(count / seconds)} leituras/s" if seconds > 0 else "—"


@dataclass
class Summary:
    """Both sides' figures per stream, and what the copy did and took."""

    source_place: str
    destination_place: str
    resumed: bool
    deleted: int
    source: dict[str, Figures] = field(default_factory=dict)
    destination: dict[str, Figures] = field(default_factory=dict)
    new: int = 0
    copy_s: float = 0.0
    check_s: float = 0.0
    tables: int = 0
    documents: int = 0
    documents_equal: bool = False
    deleted_missing: list[str] = field(default_factory=list)

    def count_new(self, stored: int) -> None:
        self.new += stored

    @property
    def read(self) -> int:
        return sum(f.readings for f in self.source.values())

    @property
    def differing(self) -> list[str]:
        """The streams whose figures differ, or that are on one side only."""
        streams = sorted(self.source.keys() | self.destination.keys())
        return [s for s in streams if s not in self.source or s not in self.destination
                or not self.source[s].same_as(self.destination[s])]

    @property
    def ok(self) -> bool:
        return not self.differing and not self.deleted_missing and self.documents_equal

    def print(self, out: TextIO) -> None:
        lines = [f"origem:  {self.source_place}", f"destino: {self.destination_place}"
                 + (" (cópia retomada)" if self.resumed else "")]
        equal = "iguais no destino" if self.documents_equal else "DIFERENTES no destino"
        lines.append(f"documentos: {self.documents} em {self.tables} tabelas, {equal}")
        lines.append("leituras por fluxo (origem = destino): quantidade, soma de verificação, energia")
        width = max((len(s) for s in self.source.keys() | self.destination.keys()), default=0)
        differing = set(self.differing)
        for stream in sorted(self.source.keys() | self.destination.keys()):
            lines.append(f"  {stream:<{width}}  " + self._row(self.source.get(stream), self.destination.get(stream))
                         + ("  DIFERENTE" if stream in differing else "  ok"))
        if self.deleted:
            missing = f", {len(self.deleted_missing)} NÃO" if self.deleted_missing else ""
            lines.append(f"fluxos apagados: {self.deleted}, apagados também no destino{missing}")
        lines.append(f"cópia: {thousands(self.read)} leituras lidas, {thousands(self.new)} gravadas agora, em "
                     f"{self.copy_s:.1f} s ({_rate(self.new, self.copy_s)}); conferência em {self.check_s:.1f} s "
                     f"({_rate(sum(f.readings for f in self.destination.values()), self.check_s)})")
        lines.append("migração concluída e conferida: o destino tem tudo o que a origem tinha" if self.ok
                     else "a conferência achou DIFERENÇAS: não use o destino")
        out.write("\n".join(lines) + "\n")

    @staticmethod
    def _row(source: Figures | None, destination: Figures | None) -> str:
        def side(f: Figures | None) -> tuple[str, str, str]:
            if f is None:
                return "ausente", "—", "—"
            wh = _kwh(f.wh) + (f" (−{_kwh(f.wh_exported)})" if f.wh_exported else "")
            return thousands(f.readings), f.digest[:SHOWN_DIGEST], wh

        (n1, d1, e1), (n2, d2, e2) = side(source), side(destination)
        return f"{n1} = {n2}  soma {d1} = {d2}  {e1} kWh = {e2} kWh"

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
