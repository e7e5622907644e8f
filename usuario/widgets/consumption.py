"""Consumo: kWh (or R$) by hour, day or month, the previous period beside it, arrows to move in time.

A period no reading covers is drawn as a gap, not as a zero: "we do not know" and "nothing was
used" look different, and the coverage the server reports is written under the chart.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static
from textual_plotext import PlotextPlot

from .. import format as fmt
from .. import periods
from ..background import call_api
from ..models import Bucket, Consumption, Meter
from ..periods import Window
from .base import MeterPane
from .chart import y_ticks

INTERVAL_NAMES = {"hora": "hora", "dia": "dia", "mes": "mês"}
GAP_NOUNS = {"hora": ("hora", "horas"), "dia": ("dia", "dias"), "mes": ("mês", "meses")}
CURRENT_COLOR = "cyan"
PREVIOUS_COLOR = "gray"
# The same colors in Rich's names, for the legend in the title (plotext's own legend is drawn over
# the plot's top-left corner and hides the line there).
LEGEND = "[cyan]━ atual[/] [grey50]━ anterior[/]"
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


def tick_label(moment: date, interval: str) -> str:
    """An x-axis label: the hour (the date where a day begins), the day, or the month."""
    if interval == "hora":
        return f"{moment:%d/%m}" if moment.hour == 0 else f"{moment:%H}h"
    if interval == "dia":
        return f"{moment:%d/%m}"
    return fmt.month(f"{moment:%Y-%m}")


def tick_slots(window: Window) -> list[int]:
    """The slots labelled: at most MAX_TICKS, on round hours (midnight among them) for hours."""
    count = window.slots
    step = max(1, -(-count // MAX_TICKS))
    if window.interval != "hora":
        return list(range(0, count, step))
    step = next(s for s in (1, 2, 3, 4, 6, 8, 12, 24) if s >= step)
    return [i for i in range(count) if window.slot_start(i).hour % step == 0]


def price_per_kwh(meter: Meter) -> Decimal | None:
    """R$ per kWh this billing cycle: the projected invoice's total over its kWh, so taxes, flags,
    tiers and the fixed fee are in it (the price a person pays per kWh on average). None for a meter
    without an invoice (production, water…) or before any consumption this cycle."""
    projected = meter.resumo.fatura_projetada
    if projected is None or projected.kwh <= 0:
        return None
    return projected.total / Decimal(str(projected.kwh))


def positioned(window: Window, data: Consumption, tz: ZoneInfo) -> list[tuple[int, Bucket]]:
    """(slot, bucket) for the buckets inside the window, by when each starts, not by its index."""
    placed = []
    for bucket in data.buckets:
        slot = window.slot(bucket.inicio.astimezone(tz).replace(tzinfo=None))
        if 0 <= slot < window.slots:
            placed.append((slot, bucket))
    return placed


def coverage_text(window: Window, current: Consumption, previous: Consumption | None,
                  price: Decimal | None = None) -> str:
    singular, plural = GAP_NOUNS[window.interval]
    gaps = current.gaps
    gap_text = "sem lacunas" if not gaps else f"{gaps} {singular if gaps == 1 else plural} sem dados (lacunas)"
    before = "" if previous is None else f" · anterior {fmt.kwh(previous.total_kwh)}"
    cost = "" if price is None else f" ≈ {fmt.brl(price * Decimal(str(current.total_kwh)))}"
    partial = " · período atual parcial" if any(b.parcial for b in current.buckets) else ""
    return (f"Total {fmt.kwh(current.total_kwh)}{cost}{before} · cobertura {fmt.percent(100 * current.coverage)}"
            f" · {gap_text}{partial}")


def price_text(price: Decimal | None) -> str:
    if price is None:
        return "R$: este medidor não tem fatura projetada (sem tarifa ou sem consumo no ciclo)"
    return f"R$ estimado a {fmt.brl(price)}/kWh, o preço médio da fatura projetada deste ciclo (impostos incluídos)"


def draw(plot: PlotextPlot, window: Window, current: Consumption, previous: Consumption | None,
         tz: ZoneInfo, price: Decimal | None = None) -> None:
    """Replace the chart's data: the current window in color, the previous one in gray, each on
    the window's slots, in kWh or, given a price, in R$."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    factor = 1.0 if price is None else float(price)
    before = periods.previous(window)
    series = [(previous, before, PREVIOUS_COLOR), (current, window, CURRENT_COLOR)]
    peak = 0.0
    for data, frame, color in series:
        if data is None:
            continue
        placed = positioned(frame, data, tz)
        buckets = [bucket for _, bucket in placed]
        for run in covered_runs(buckets):
            xs = [placed[i][0] + 1 for i in run]
            ys = [buckets[i].kwh * factor for i in run]
            peak = max(peak, *ys)
            plt.plot(xs, ys, color=color, marker="braille")
    ticks = tick_slots(window)
    plt.xticks([i + 1 for i in ticks], [tick_label(window.slot_start(i), window.interval) for i in ticks])
    plt.xlim(0.5, window.slots + 0.5)
    values, labels = y_ticks(peak)
    plt.yticks(values, labels)
    plt.ylim(0, values[-1])
    plot.refresh()


class ConsumptionPane(MeterPane):
    TITLE = "Consumo"
    can_focus = True
    # One footer entry per group of keys, so the footer fits 80 columns (issue 14 #6).
    BINDINGS = [
        Binding("left", "move(-1)", "Período", key_display="←→"),
        Binding("right", "move(1)", "Seguinte", show=False),
        Binding("h", "interval('hora')", "Intervalo", key_display="h/d/m"),
        Binding("d", "interval('dia')", "Dia", show=False),
        Binding("m", "interval('mes')", "Mês", show=False),
        Binding("r", "toggle_cost", "R$"),
        Binding("home", "today", "Hoje", show=False),
    ]

    @dataclass
    class Loaded(Message):
        window: Window
        current: Consumption
        previous: Consumption | None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.in_brl = False
        self._shown: ConsumptionPane.Loaded | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="consumo-title")
        yield PlotextPlot(id="consumo-plot")
        yield Static("", id="consumo-info")

    def on_mount(self) -> None:
        self.window = periods.current("dia", self._today())
        self.query_one("#consumo-title", Static).update(f"{self._unit()} {self.window.title} (carregando…)")

    def _now(self) -> datetime:
        """Now on the meter's wall clock (naive local time)."""
        return self.app.clock().astimezone(self.meter.tz).replace(tzinfo=None)

    def _today(self) -> date:
        return self._now().date()

    def _unit(self) -> str:
        return "R$" if self.in_brl else "kWh"

    def reload(self) -> None:
        self.query_one("#consumo-title", Static).update(f"{self._unit()} {self.window.title} (carregando…)")
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
        self._shown = message
        self._show()

    def _show(self) -> None:
        message = self._shown
        if message is None:
            return
        price = price_per_kwh(self.meter)
        in_brl = self.in_brl and price is not None
        self.query_one("#consumo-title", Static).update(
            f"{'R$' if in_brl else 'kWh'} {message.window.title} · {LEGEND}")
        draw(self.query_one("#consumo-plot", PlotextPlot), message.window, message.current, message.previous,
             self.meter.tz, price if in_brl else None)
        info = coverage_text(message.window, message.current, message.previous, price)
        if self.in_brl:
            info = f"{info}\n{price_text(price)}"
        self.query_one("#consumo-info", Static).update(info)

    def show_meter(self, meter: Meter) -> None:
        super().show_meter(meter)
        if self.in_brl:
            self._show()  # the price follows the projected invoice

    def action_toggle_cost(self) -> None:
        """r: the chart in R$ (at this cycle's mean price per kWh) or back in kWh."""
        if not self.in_brl and price_per_kwh(self.meter) is None:
            self.notify(price_text(None), severity="warning")
            return
        self.in_brl = not self.in_brl
        self._show()

    def action_move(self, steps: int) -> None:
        moved = periods.shift(self.window, steps)
        if moved.start > (self._now() if moved.interval == "hora" else self._today()):
            self.notify("Este já é o período mais recente.", severity="information")
            return
        self.window = moved
        self.reload()

    def action_interval(self, interval: str) -> None:
        """Switch interval, keeping the day in view: the window of that interval that holds it
        (today's: the one that ends now)."""
        day = min(self.window.last_day, self._today())
        self.window = periods.current(interval, self._now() if day == self._today() else day)
        self.reload()

    def action_today(self) -> None:
        self.window = periods.current(self.window.interval, self._now())
        self.reload()

    def focus_main(self) -> None:
        self.focus()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Consumo: período anterior", "Mostra o período anterior (←)", lambda: self.action_move(-1))
        yield SystemCommand("Consumo: período seguinte", "Mostra o período seguinte (→)", lambda: self.action_move(1))
        for interval, name in INTERVAL_NAMES.items():
            yield SystemCommand(f"Consumo: por {name}", f"Gráfico de kWh por {name}",
                                lambda interval=interval: self.action_interval(interval))
        yield SystemCommand("Consumo: kWh ou R$", "Mostra o gráfico em reais ou em kWh (r)", self.action_toggle_cost)
        yield SystemCommand("Consumo: voltar a hoje", "Mostra o período que termina hoje (Home)", self.action_today)
