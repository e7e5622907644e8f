"""Consumo: kWh by hour, day or month, the previous period beside it, arrows to move in time.

A period no reading covers is drawn as a gap, not as a zero: "we do not know" and "nothing was
used" look different, and the coverage the server reports is written under the chart.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable, Sequence

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static
from textual_plotext import PlotextPlot

from .. import format as fmt
from .. import periods
from ..background import call_api
from ..models import Bucket, Consumption
from ..periods import Window
from .base import MeterPane
from .chart import y_ticks

INTERVAL_NAMES = {"hora": "hora", "dia": "dia", "mes": "mês"}
GAP_NOUNS = {"hora": ("hora", "horas"), "dia": ("dia", "dias"), "mes": ("mês", "meses")}
CURRENT_COLOR = "cyan"
PREVIOUS_COLOR = "gray"
# Axis labels on an 80-column chart: more than this and they run into each other.
MAX_TICKS = 6


def covered_runs(buckets: Sequence[Bucket]) -> list[list[int]]:
    """Indexes of the buckets with readings, split where a gap interrupts them."""
    runs: list[list[int]] = []
    current: list[int] = []
    for index, bucket in enumerate(buckets):
        if bucket.gap:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(index)
    if current:
        runs.append(current)
    return runs


def tick_label(bucket: Bucket, interval: str) -> str:
    if interval == "hora":
        return f"{bucket.inicio:%H}h"
    if interval == "dia":
        return f"{bucket.inicio:%d/%m}"
    return fmt.month(f"{bucket.inicio:%Y-%m}")


def coverage_text(window: Window, current: Consumption, previous: Consumption | None) -> str:
    singular, plural = GAP_NOUNS[window.interval]
    gaps = current.gaps
    gap_text = "sem lacunas" if not gaps else f"{gaps} {singular if gaps == 1 else plural} sem dados (lacunas)"
    before = "" if previous is None else f" · anterior {fmt.kwh(previous.total_kwh)}"
    partial = " · período atual parcial" if any(b.parcial for b in current.buckets) else ""
    return (f"Total {fmt.kwh(current.total_kwh)}{before} · cobertura {fmt.percent(100 * current.coverage)}"
            f" · {gap_text}{partial}")


def draw(plot: PlotextPlot, window: Window, current: Consumption, previous: Consumption | None) -> None:
    """Replace the chart's data: the current window in color, the previous one in gray."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    series = [(previous, PREVIOUS_COLOR, "anterior"), (current, CURRENT_COLOR, "atual")]
    for data, color, label in series:
        if data is None:
            continue
        for n, run in enumerate(covered_runs(data.buckets)):
            xs = [i + 1 for i in run]
            ys = [data.buckets[i].kwh for i in run]
            plt.plot(xs, ys, color=color, marker="braille", label=label if n == 0 else None)
    count = len(current.buckets)
    if count:
        step = max(1, -(-count // MAX_TICKS))
        ticks = list(range(0, count, step))
        plt.xticks([i + 1 for i in ticks], [tick_label(current.buckets[i], window.interval) for i in ticks])
        plt.xlim(0.5, count + 0.5)
    peak = max((b.kwh for data in (current, previous) if data for b in data.buckets), default=0.0)
    ticks, labels = y_ticks(peak)
    plt.yticks(ticks, labels)
    plt.ylim(0, ticks[-1])
    plot.refresh()


class ConsumptionPane(MeterPane):
    TITLE = "Consumo"
    can_focus = True
    BINDINGS = [
        Binding("left", "move(-1)", "Anterior"),
        Binding("right", "move(1)", "Seguinte"),
        Binding("h", "interval('hora')", "Hora"),
        Binding("d", "interval('dia')", "Dia"),
        Binding("m", "interval('mes')", "Mês"),
        Binding("home", "today", "Hoje", show=False),
    ]

    @dataclass
    class Loaded(Message):
        window: Window
        current: Consumption
        previous: Consumption | None

    def compose(self) -> ComposeResult:
        yield Static("", id="consumo-title")
        yield PlotextPlot(id="consumo-plot")
        yield Static("", id="consumo-info")

    def on_mount(self) -> None:
        self.window = periods.current("dia", self._today())
        self.query_one("#consumo-title", Static).update(f"kWh {self.window.title} (carregando…)")

    def _today(self) -> date:
        return self.app.clock().astimezone(self.meter.tz).date()

    def reload(self) -> None:
        self.query_one("#consumo-title", Static).update(f"kWh {self.window.title} (carregando…)")
        self._load(self.window)

    @work(thread=True, exclusive=True, group="consumo")
    def _load(self, window: Window) -> None:
        api = self.app.api
        before = periods.previous(window)
        current = call_api(self, "carregar o consumo",
                           lambda: api.consumption(self.meter.id, window.interval, window.start, window.end))
        if current is None:
            return
        previous = call_api(self, "carregar o período anterior",
                            lambda: api.consumption(self.meter.id, before.interval, before.start, before.end))
        self.post_message(self.Loaded(window, current, previous))

    def on_consumption_pane_loaded(self, message: Loaded) -> None:
        if message.window != self.window:
            return  # the person moved on while this was loading
        self.query_one("#consumo-title", Static).update(f"kWh {message.window.title} · ← → período · h d m intervalo")
        draw(self.query_one("#consumo-plot", PlotextPlot), message.window, message.current, message.previous)
        self.query_one("#consumo-info", Static).update(coverage_text(message.window, message.current, message.previous))

    def action_move(self, steps: int) -> None:
        moved = periods.shift(self.window, steps)
        if moved.start > self._today():
            self.notify("Este já é o período mais recente.", severity="information")
            return
        self.window = moved
        self.reload()

    def action_interval(self, interval: str) -> None:
        """Switch interval, keeping the day in view: the window of that interval that holds it."""
        anchor = min(self.window.end, self._today())
        self.window = periods.current(interval, anchor)
        self.reload()

    def action_today(self) -> None:
        self.window = periods.current(self.window.interval, self._today())
        self.reload()

    def focus_main(self) -> None:
        self.focus()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Consumo: período anterior", "Mostra o período anterior (←)", lambda: self.action_move(-1))
        yield SystemCommand("Consumo: período seguinte", "Mostra o período seguinte (→)", lambda: self.action_move(1))
        for interval, name in INTERVAL_NAMES.items():
            yield SystemCommand(f"Consumo: por {name}", f"Gráfico de kWh por {name}",
                                lambda interval=interval: self.action_interval(interval))
        yield SystemCommand("Consumo: voltar a hoje", "Mostra o período que termina hoje (Home)", self.action_today)
