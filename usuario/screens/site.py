"""A site (a house with panels, say): today by the hour, grid and solar apart, in a chart and a table."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual_plotext import PlotextPlot

from .. import format as fmt
from ..background import call_api
from ..widgets.banner import Banner
from ..widgets.chart import y_ticks
from ..widgets.flows import site_summary

COLUMNS = (("rotulo", "Hora"), ("importado_kwh", "Da rede kWh"), ("exportado_kwh", "À rede kWh"),
           ("producao_kwh", "Solar kWh"), ("consumo_kwh", "Consumo kWh"), ("autoconsumo_kwh", "Autoconsumo kWh"))


def hour_label(rotulo: str) -> str:
    """`2026-10-05T14:00-03:00` → `14h`; anything else as it came."""
    try:
        return f"{datetime.fromisoformat(rotulo).hour}h"
    except ValueError:
        return rotulo


class SiteScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Voltar"), Binding("r", "reload", "Atualizar"),
                Binding("a", "day(-1)", "Dia anterior", priority=True),
                Binding("s", "day(1)", "Dia seguinte", priority=True)]

    @dataclass
    class Loaded(Message):
        data: dict[str, Any]

    def __init__(self, site_id: str, day: date | None = None) -> None:
        super().__init__()
        self.site_id = site_id
        self.day = day or date.today()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        yield Static(f"Site {self.site_id} · {self.day.strftime('%d/%m/%Y')} · carregando…", id="site-heading")
        yield PlotextPlot(id="site-plot")
        yield DataTable(id="site-table", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#site-table", DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self.action_reload()

    def action_reload(self) -> None:
        self._load()

    def action_day(self, step: int) -> None:
        """Another day (never past today: the future has no readings)."""
        self.day = min(date.today(), self.day + timedelta(days=step))
        self.query_one("#site-heading", Static).update(f"Site {self.site_id} · {self.day.strftime('%d/%m/%Y')} · "
                                                        "carregando…")
        self._load()

    @work(thread=True, exclusive=True, group="site")
    def _load(self) -> None:
        data = call_api(self, "carregar o site",
                        lambda: self.app.api.site_consumption(self.site_id, "hora", self.day, self.day))
        if data is not None:
            self.post_message(self.Loaded(data))

    def on_site_screen_loaded(self, message: Loaded) -> None:
        data = message.data
        rows = data["consumo"]
        self.query_one("#site-heading", Static).update(
            f"Site {self.site_id} · {self.day.strftime('%d/%m/%Y')} · {site_summary(data['totais'])}")
        table = self.query_one("#site-table", DataTable)
        table.clear()
        for row in rows:
            table.add_row(hour_label(row["rotulo"]), *(fmt.number(row[key], 3) for key, _ in COLUMNS[1:]))
        self._draw(rows)

    def _draw(self, rows: list[dict[str, Any]]) -> None:
        widget = self.query_one("#site-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        labels = [hour_label(r["rotulo"]) for r in rows]
        grid = [r["importado_kwh"] for r in rows]
        solar = [r["producao_kwh"] - r["exportado_kwh"] if r["producao_kwh"] > r["exportado_kwh"] else 0.0
                 for r in rows]
        exported = [-r["exportado_kwh"] for r in rows]
        if rows:
            plt.stacked_bar(labels, [grid, solar], labels=["da rede", "solar usado"], color=["red", "green"])
            if any(exported):
                plt.bar(labels, exported, label="enviado à rede", color="yellow")
            top = max([g + s for g, s in zip(grid, solar)] + [0.1])
            bottom = min(exported + [0.0])
            ticks, names = y_ticks(max(top, -bottom))
            plt.yticks([-t for t in reversed(ticks[1:])] + ticks if bottom < 0 else ticks,
                       ["-" + n for n in reversed(names[1:])] + names if bottom < 0 else names)
        plt.title("kWh por hora: rede, solar consumido na casa e exportação")
        widget.refresh()
