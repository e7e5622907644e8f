"""Qual tarifa compensa?: the meter's real consumption of the last cycles billed under each tariff
(a table of totals per cycle), the hours of the day that make the difference (a chart), and the
server's verdict — which says plainly when the history is too short to tell."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from .. import format as fmt
from ..api import RequestFailed
from ..background import call_api
from ..billing_models import Comparison
from .base import MeterPane

# The server's code for a meter without an energy bill.
NO_BILL = "sem_fatura"
# A year of cycles: the seasons change the answer (air conditioning in summer, showers in winter).
CYCLES = 12
# One color per tariff compared with the meter's own, in the chart's order.
COLORS = ("orange", "cyan", "magenta", "green", "yellow", "blue", "red")
# Tariff names in the chart's legend: enough to tell "Tarifa Branca B1" from "Convencional B1".
NAME_WIDTH = 16
# Ticks on the chart's y axis, labelled the Brazilian way.
Y_TICKS = 5


def _right(text: str) -> Text:
    return Text(text, justify="right")


def verdict_text(comparison: Comparison) -> str:
    if comparison.historico_curto:
        return f"Ainda não dá para dizer: {comparison.conclusao}."
    return comparison.conclusao[:1].upper() + comparison.conclusao[1:] + "."


def fill_table(table: DataTable, comparison: Comparison) -> None:
    table.clear(columns=True)
    # Tariff ids head the columns (the verdict names them in full): three tariffs fit 80 columns.
    table.add_column("Ciclo", key="ciclo")
    table.add_column("kWh", key="kwh")
    for tariff_id, _ in comparison.tarifas:
        table.add_column(tariff_id, key=tariff_id)
    for cycle in reversed(comparison.ciclos):
        # A cycle with too few readings is listed but left out of the totals.
        label = cycle.rotulo if cycle.completo else f"{cycle.rotulo} (fora: {fmt.percent(100 * cycle.cobertura, 0)})"
        table.add_row(label, _right(fmt.number(cycle.kwh, 0)),
                      *(_right(fmt.brl(cycle.totais[t])) for t, _ in comparison.tarifas), key=cycle.nome)
    style = "bold"
    table.add_row(Text(f"Total de {comparison.ciclos_completos}", style=style), "",
                  *(Text(fmt.brl(comparison.totais[t]), style=style + (" green" if t == comparison.mais_barata else ""),
                         justify="right") for t, _ in comparison.tarifas), key="total")
    table.add_row("Diferença", "", *(_right(fmt.brl(comparison.diferencas[t])) for t, _ in comparison.tarifas),
                  key="diferenca")


def draw(plot: PlotextPlot, comparison: Comparison) -> None:
    """Per hour of the day, what each other tariff costs more (+) or less (−) than the meter's."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    reference = comparison.tarifas[0][1]
    if comparison.historico_curto:
        plt.title("sem ciclos completos: nada a comparar por hora")
        plot.refresh()
        return
    hours = [hour.hora for hour in comparison.horas]
    others = comparison.tarifas[1:]
    plt.multiple_bar(hours, [[float(h.diferencas[t]) for h in comparison.horas] for t, _ in others],
                     labels=[name[:NAME_WIDTH] for _, name in others], color=list(COLORS[:len(others)]))
    plt.title(f"R$ a mais (+) ou a menos (−) que {reference}, por hora do dia")
    plt.xticks(hours[::3], [f"{h}h" for h in hours[::3]])
    values = [float(h.diferencas[t]) for h in comparison.horas for t, _ in others] + [0.0]
    low, high = min(values), max(values)
    step = (high - low) / (Y_TICKS - 1) or 1.0
    ticks = [low + n * step for n in range(Y_TICKS)]
    plt.yticks(ticks, [fmt.number(v, 2) for v in ticks])
    plot.refresh()


class ComparisonPane(MeterPane):
    TITLE = "Qual tarifa?"
    BINDINGS = [Binding("r", "refresh", "Recalcular")]

    @dataclass
    class Loaded(Message):
        comparison: Comparison

    def compose(self) -> ComposeResult:
        yield Static("Qual tarifa compensa? (carregando…)", id="cmp-verdict")
        yield DataTable(id="cmp-cycles", cursor_type="row", zebra_stripes=True)
        yield PlotextPlot(id="cmp-plot")
        yield Static("", id="cmp-notes")

    def reload(self) -> None:
        self._load()

    @dataclass
    class NoBill(Message):
        """The meter has no energy bill (production, export, water, gas): the server says why."""

        reason: str

    @work(thread=True, exclusive=True, group="comparar")
    def _load(self) -> None:
        def fetch() -> Comparison | str:
            try:
                return self.app.api.compare_tariffs(self.meter.id, CYCLES)
            except RequestFailed as exc:
                if exc.code == NO_BILL:
                    return exc.message
                raise
        result = call_api(self, "comparar as tarifas", fetch)
        if isinstance(result, str):
            self.post_message(self.NoBill(result))
        elif result is not None:
            self.post_message(self.Loaded(result))

    def on_comparison_pane_no_bill(self, message: NoBill) -> None:
        self.query_one("#cmp-verdict", Static).update(f"Sem tarifa a comparar: {message.reason}.")

    def on_comparison_pane_loaded(self, message: Loaded) -> None:
        comparison = message.comparison
        self.query_one("#cmp-verdict", Static).update(f"Qual tarifa compensa? {verdict_text(comparison)}")
        fill_table(self.query_one("#cmp-cycles", DataTable), comparison)
        draw(self.query_one("#cmp-plot", PlotextPlot), comparison)
        self.query_one("#cmp-notes", Static).update("\n".join(f"Aviso: {note}" for note in comparison.avisos))

    def action_refresh(self) -> None:
        self.reload()

    def focus_main(self) -> None:
        self.query_one("#cmp-cycles", DataTable).focus()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Qual tarifa compensa?: recalcular", "Compara de novo as tarifas (r)", self.action_refresh)
