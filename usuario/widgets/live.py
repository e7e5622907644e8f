"""Ao vivo: power as readings arrive, through the server's long poll.

One worker loops on `ao-vivo` while the tab is in view; each batch is a message, and the chart
only replaces its data and redraws itself, so nothing else on screen is repainted (no flicker).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static
from textual.worker import Worker, get_current_worker
from textual_plotext import PlotextPlot

from .. import format as fmt
from ..background import call_api
from ..models import LiveReading
from ..screens.measure_chart import MeasureChartScreen
from .base import MeterPane
from .chart import span_ticks
from .measurements import MeasurementsTable

# Readings fetched when the tab opens, so the chart starts with recent history, not empty.
LIVE_HISTORY = 60
# Points kept on the chart: two per column of an 80-column terminal's braille plot.
MAX_POINTS = 120
MAX_TICKS = 5
LIVE_COLOR = "green"


@dataclass(frozen=True, slots=True)
class Point:
    ts: datetime
    watts: float
    seq: int


def to_points(readings: tuple[LiveReading, ...], before: LiveReading | None) -> list[Point]:
    """Power per reading: the reported `potencia_w`, else the mean power since the previous
    reading (Δ energy / Δ time), which is what a counter-only meter can tell."""
    points = []
    previous = before
    for reading in readings:
        watts = reading.potencia_w
        if watts is None and previous is not None:
            hours = (reading.ts - previous.ts).total_seconds() / 3600
            if hours > 0 and reading.energia_wh >= previous.energia_wh:
                watts = (reading.energia_wh - previous.energia_wh) / hours
        if watts is not None:
            points.append(Point(reading.ts, watts, reading.seq))
        previous = reading
    return points


class LivePane(MeterPane):
    TITLE = "Ao vivo"

    @dataclass
    class Arrived(Message):
        readings: tuple[LiveReading, ...]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.points: deque[Point] = deque(maxlen=MAX_POINTS)
        self._last: LiveReading | None = None
        self._worker: Worker | None = None

    def compose(self) -> ComposeResult:
        yield Static("Aguardando leituras…", id="live-status")
        yield MeasurementsTable(id="live-measurements")
        yield PlotextPlot(id="live-plot")

    # The pane listens only while it is in view: a long poll holds a connection on the server.
    def activated(self) -> None:
        self.seen = True
        self.start()
        self.focus_main()

    def deactivated(self) -> None:
        self.stop()

    def reload(self) -> None:
        if self.seen:
            self.start()

    def on_unmount(self) -> None:
        self.stop()

    def start(self) -> None:
        if self._worker is not None and self._worker.is_running:
            return
        if self._last is not None:
            after = self._last.seq
        else:
            last = self.meter.ultima_leitura
            after = -1 if last is None else max(-1, last.seq - LIVE_HISTORY)
        self._worker = self._listen(after)

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None

    @work(thread=True, exclusive=True, group="ao-vivo")
    def _listen(self, after: int) -> None:
        worker = get_current_worker()
        session = self.app.api.live()
        wait_s = self.app.live_wait_s
        try:
            while not worker.is_cancelled:
                batch = call_api(self, "acompanhar as leituras ao vivo",
                                 lambda: session.poll(self.meter.id, after, wait_s))
                if batch is None:
                    return  # reported (the banner retries and reloads the tab) or cancelled
                if batch.leituras:
                    after = batch.ultimo_seq
                    self.post_message(self.Arrived(batch.leituras))
        finally:
            session.close()

    def on_live_pane_arrived(self, message: Arrived) -> None:
        fresh = [r for r in message.readings if self._last is None or r.seq > self._last.seq]
        if not fresh:
            return
        self.points.extend(to_points(tuple(fresh), self._last))
        self._last = fresh[-1]
        self.query_one(MeasurementsTable).show(self._last.medidas)
        self._draw()

    def action_measure_chart(self) -> None:
        """Today's chart of one of the analyzer's measurements (g)."""
        medidas = self.query_one(MeasurementsTable).medidas
        if not medidas:
            self.notify("Este medidor não informa tensão, corrente nem as outras medidas de um analisador.")
            return
        self.app.push_screen(MeasureChartScreen(self.meter, medidas))

    def _draw(self) -> None:
        last = self._last
        status = self.query_one("#live-status", Static)
        if last is not None:
            power = self.points[-1].watts if self.points else None
            status.update(f"Potência: {fmt.watts(power)} em {fmt.moment(last.ts, self.meter.tz)}"
                          f" (leitura {last.seq}) · atualiza a cada leitura")
        plot = self.query_one("#live-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if self.points:
            xs = list(range(1, len(self.points) + 1))
            # No plotext legend: it is drawn over the plot's top-left corner and hides the line
            # there; the status line above says the unit.
            plt.plot(xs, [p.watts for p in self.points], color=LIVE_COLOR, marker="braille")
            step = max(1, -(-len(xs) // MAX_TICKS))
            ticks = list(range(0, len(xs), step))
            span_days = (self.points[-1].ts - self.points[0].ts).days
            # Readings spanning more than a day need the date, or 13:00 appears twice.
            stamp = "%d/%m %H:%M" if span_days >= 1 else "%H:%M:%S"
            plt.xticks([i + 1 for i in ticks], [f"{self.points[i].ts.astimezone(self.meter.tz):{stamp}}" for i in ticks])
            watts = [p.watts for p in self.points]
            values, labels = span_ticks(min(watts), max(watts))
            plt.yticks(values, labels)
            plt.ylim(values[0], values[-1])
        plot.refresh()
