"""Every measurement of an analyzer's last reading (Tesla Analyzer's codes), in the Ao vivo tab:
a table per phase (V, A, W, VA, var, PF, THD V, THD I) with the totals, then frequency and the
energy counters. Only a meter whose readings carry these codes shows it; a table that
shows them all must also say which ones the device does not measure ("—").
"""
from __future__ import annotations

from typing import Mapping

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from shared.measurement_names import phase_name

from .. import format as fmt

Value = float | tuple[float, ...]
# (column title, per-phase code, total code, decimals)
COLUMNS = (
    ("V", "TPF", None, 1),
    ("A", "IPF", None, 2),
    ("W", "PAF", "PAT", 0),
    ("VA", None, "PAP", 0),
    ("var", None, "PRT", 0),
    ("FP", None, "FPT", 2),
    ("THD V %", "THDV", None, 1),
    ("THD I %", "THDI", None, 1),
)
TABLE_CODES = frozenset(c for _, phase, total, _ in COLUMNS for c in (phase, total) if c) | {"FRE", "CER", "CEA"}
MISSING = "—"


def _phase_value(value: Value | None, index: int) -> float | None:
    if isinstance(value, tuple):
        return value[index] if index < len(value) else None
    return None


def _total_value(value: Value | None) -> float | None:
    return value if isinstance(value, (int, float)) else None


def has_measurements(medidas: Mapping[str, Value]) -> bool:
    return any(code in TABLE_CODES for code in medidas)


def measurement_table(medidas: Mapping[str, Value]) -> Table:
    """The phases as rows (1, 2, 3, N when a code has a neutral value) and a total row."""
    phases = max((len(v) for v in medidas.values() if isinstance(v, tuple)), default=0)
    table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold", expand=False)
    table.add_column("fase", no_wrap=True)
    for title, *_ in COLUMNS:
        table.add_column(title, justify="right", no_wrap=True)
    for index in range(phases):
        cells = []
        for _, phase_code, _, decimals in COLUMNS:
            value = _phase_value(medidas.get(phase_code), index) if phase_code else None
            cells.append(MISSING if value is None else fmt.number(value, decimals))
        table.add_row(phase_name(index), *cells)
    totals = []
    for _, phase_code, total_code, decimals in COLUMNS:
        value = _total_value(medidas.get(total_code)) if total_code else None
        if value is None and phase_code:  # a device that reports one THD for all phases
            value = _total_value(medidas.get(phase_code))
        totals.append(MISSING if value is None else fmt.number(value, decimals))
    table.add_row(Text("total", style="bold"), *totals)
    return table


def extras_line(medidas: Mapping[str, Value]) -> str:
    parts = []
    for code, label, unit, decimals in (("FRE", "Frequência", "Hz", 2), ("CER", "Energia reativa", "kvarh", 1),
                                        ("CEA", "Energia ativa", "kWh", 1)):
        value = _total_value(medidas.get(code))
        if value is not None:
            parts.append(f"{label} {fmt.number(value, decimals)} {unit}")
    return " · ".join(parts)


class MeasurementsTable(Static):
    """Shows the last reading's measurements; hidden while there are none."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.display = False
        self.medidas: Mapping[str, Value] = {}

    def show(self, medidas: Mapping[str, Value]) -> None:
        if not has_measurements(medidas):
            return
        self.medidas = medidas
        table = measurement_table(medidas)
        extras = extras_line(medidas)
        self.update(_stack(table, extras))
        self.display = True


def _stack(table: Table, extras: str) -> Table:
    grid = Table.grid()
    grid.add_row(table)
    if extras:
        grid.add_row(Text(extras))
    grid.add_row(Text("g: gráfico do dia de uma destas medidas", style="dim"))
    return grid
