"""One measurement over today (voltage of phase 2, frequency, power factor …), on demand from the
Ao vivo tab (key g): a modal screen with a choice of quantity and a chart of today's readings."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Select, Static
from textual_plotext import PlotextPlot

from shared.measurement_names import CODE_NAMES, phase_name
from shared.models import MEASUREMENT_CODES

from .. import format as fmt
from ..background import call_api
from ..models import LiveReading, Meter

MAX_TICKS = 5
COLOR = "cyan"
# A series: (code, phase index or None for a single value).
Series = tuple[str, int | None]


def series_of(medidas: Mapping[str, float | tuple[float, ...]]) -> list[tuple[str, Series]]:
    """(label, series) for every quantity of a reading, in the order of the codes."""
    out = []
    for code in MEASUREMENT_CODES:
        value = medidas.get(code)
        unit = MEASUREMENT_CODES[code] or "—"
        if isinstance(value, tuple):
            out += [(f"{code} fase {phase_name(i)} · {CODE_NAMES[code]} ({unit})", (code, i)) for i in range(len(value))]
        elif value is not None:
            out.append((f"{code} · {CODE_NAMES[code]} ({unit})", (code, None)))
    return out


def points(readings: tuple[LiveReading, ...], series: Series) -> list[tuple[datetime, float]]:
    code, index = series
    out = []
    for reading in readings:
        value = reading.medidas.get(code)
        if index is not None and isinstance(value, tuple) and index < len(value):
            out.append((reading.ts, value[index]))
        elif index is None and isinstance(value, (int, float)):
            out.append((reading.ts, float(value)))
    return out


class MeasureChartScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Fechar")]

    @dataclass
    class Loaded(Message):
        readings: tuple[LiveReading, ...]

    def __init__(self, meter: Meter, medidas: Mapping[str, float | tuple[float, ...]]) -> None:
        super().__init__()
        self.meter = meter
        self.options = series_of(medidas)
        self.readings: tuple[LiveReading, ...] = ()

    def compose(self) -> ComposeResult:
        with Vertical(id="measure-chart"):
            yield Static(f"{self.meter.nome}: uma medida ao longo de hoje (Esc fecha)", id="measure-chart-title")
            yield Select([(label, i) for i, (label, _) in enumerate(self.options)], allow_blank=False, value=0,
                         id="measure-choice", compact=True)
            yield Static("Carregando as leituras de hoje…", id="measure-chart-status")
            yield PlotextPlot(id="measure-plot")

    def on_mount(self) -> None:
        self.query_one("#measure-choice", Select).focus()
        start = datetime.now(self.meter.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        self._load(start)

    @work(thread=True, exclusive=True, group="grafico-medida")
    def _load(self, start: datetime) -> None:
        readings = call_api(self, "carregar as leituras de hoje", lambda: self.app.api.readings(self.meter.id, start))
        if readings is not None:
            self.post_message(self.Loaded(readings))

    def on_measure_chart_screen_loaded(self, message: Loaded) -> None:
        self.readings = message.readings
        self._draw()

    @on(Select.Changed, "#measure-choice")
    def _changed(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self.options:
            return
        choice = self.query_one("#measure-choice", Select).value
        label, series = self.options[choice if isinstance(choice, int) else 0]
        data = points(self.readings, series)
        status = self.query_one("#measure-chart-status", Static)
        plot = self.query_one("#measure-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if not data:
            status.update(f"{label}: nenhuma leitura hoje com esta medida")
            plot.refresh()
            return
        values = [v for _, v in data]
        status.update(f"{label}: {len(data)} leituras hoje · mín {fmt.number(min(values))} · "
                      f"máx {fmt.number(max(values))} · agora {fmt.number(values[-1])}")
        xs = list(range(1, len(data) + 1))
        plt.plot(xs, values, color=COLOR, marker="braille")
        step = max(1, -(-len(xs) // MAX_TICKS))
        ticks = list(range(0, len(xs), step))
        plt.xticks([i + 1 for i in ticks], [f"{data[i][0].astimezone(self.meter.tz):%H:%M}" for i in ticks])
        # The axis follows the values (a voltage moves by volts around 220, not from 0).
        plot.refresh()
