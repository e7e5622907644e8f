"""One meter, in tabs: overview, consumption, invoices, alerts, live, control and which tariff pays."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from .. import format as fmt
from ..background import call_api
from ..messages import Reconnected
from ..models import Meter
from ..widgets.alerts import AlertsPane
from ..widgets.banner import Banner
from ..widgets.base import MeterPane
from ..widgets.consumption import ConsumptionPane
from ..widgets.control import ControlPane
from ..widgets.invoices import InvoicesPane
from ..widgets.live import LivePane
from ..widgets.overview import OverviewPane
from ..widgets.tariff_comparison import ComparisonPane
from ..widgets.tariff_editor import TariffEditor

# Tab ids in order; the digit keys 1-7 jump to them.
TABS = (
    ("visao", OverviewPane), ("consumo", ConsumptionPane), ("faturas", InvoicesPane),
    ("alertas", AlertsPane), ("ao-vivo", LivePane), ("controle", ControlPane),
    ("tarifas", ComparisonPane),
)


def meter_heading(meter: Meter, tariff_name: str | None = None) -> str:
    """Name, id, category, state and the tariff by its name (its id until the name is known)."""
    state = "PAUSADO" if meter.paused else "ativo"
    tariff = f" · tarifa {tariff_name or meter.tarifa}" if meter.tarifa else ""
    return f"{meter.nome} · {meter.id} · {fmt.category(meter.categoria)} · {state}{tariff}"


class MeterScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Voltar"),
        # One footer entry stands for the digit keys.
        Binding("1", "show_tab('visao')", "Abas", key_display=f"1…{len(TABS)}"),
        *(Binding(str(n), f"show_tab('{tab}')", f"Aba {n}", show=False)
          for n, (tab, _) in enumerate(TABS, start=1) if n > 1),
        # Ao vivo: today's chart of one of an analyzer's measurements (widgets/measurements.py).
        Binding("g", "measure_chart", "Gráfico do dia", show=False),
    ]

    @dataclass
    class Loaded(Message):
        meter: Meter
        tariff_name: str | None = None

    def __init__(self, meter: Meter) -> None:
        super().__init__()
        self.meter = meter
        self._active: str = "visao"
        # The meter carries its tariff's id; the heading shows the name, read once per tariff.
        self._tariff_names: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        yield Static(meter_heading(self.meter), id="meter-heading")
        with TabbedContent(initial="visao", id="tabs"):
            for tab, pane_type in TABS:
                with TabPane(pane_type.TITLE, id=tab):
                    yield pane_type(self.meter, id=f"pane-{tab}")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(self.app.refresh_s, self.reload)
        self.reload()

    def pane(self, tab: str) -> MeterPane:
        return self.query_one(f"#pane-{tab}", MeterPane)

    # -- data -------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the meter (its summary feeds the overview, the heading and the control tab)."""
        if self.is_current and self.app.offline_reason is None:
            self._load()

    @work(thread=True, exclusive=True, group="medidor")
    def _load(self) -> None:
        meter = call_api(self, "carregar o medidor", lambda: self.app.api.meter(self.meter.id))
        if meter is None:
            return
        name = self._tariff_names.get(meter.tarifa) if meter.tarifa else None
        if meter.tarifa and name is None:
            tariff = call_api(self, "carregar a tarifa", lambda: self.app.api.tariff(meter.tarifa))
            name = None if tariff is None else tariff.nome
        self.post_message(self.Loaded(meter, name))

    def on_meter_screen_loaded(self, message: Loaded) -> None:
        self.meter = message.meter
        if message.tariff_name:
            self._tariff_names[message.meter.tarifa] = message.tariff_name
        self._show_heading()
        for pane in self.query(MeterPane):
            pane.show_meter(message.meter)

    def on_tariff_editor_loaded(self, message: TariffEditor.Loaded) -> None:
        """The Controle tab read or renamed the tariff: the heading follows its name."""
        self._tariff_names[message.tariff.id] = message.tariff.nome
        self._show_heading()

    def _show_heading(self) -> None:
        self.query_one("#meter-heading", Static).update(
            meter_heading(self.meter, self._tariff_names.get(self.meter.tarifa)))

    def on_reconnected(self, _message: Reconnected) -> None:
        self._load()
        self.pane(self._active).reload()

    # -- tabs -------------------------------------------------------------------------------------

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab = str(event.pane.id)
        if tab != self._active:
            self.pane(self._active).deactivated()
        self._active = tab
        self.pane(tab).activated()

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab

    def action_measure_chart(self) -> None:
        if self._active == "ao-vivo":
            self.query_one(LivePane).action_measure_chart()

    def action_back(self) -> None:
        self.pane(self._active).deactivated()
        self.app.pop_screen()

    def on_unmount(self) -> None:
        for pane in self.query(MeterPane):
            pane.deactivated()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Voltar à lista de medidores", "Fecha este medidor (Esc)", self.action_back)
        for n, (tab, pane_type) in enumerate(TABS, start=1):
            yield SystemCommand(f"Aba {pane_type.TITLE}", f"Mostra a aba {pane_type.TITLE} ({n})",
                                lambda tab=tab: self.action_show_tab(tab))
        for tab, _ in TABS:
            for command in self.pane(tab).palette_commands():
                yield SystemCommand(command.title, command.help, self._in_tab(tab, command.callback))

    def _in_tab(self, tab: str, callback: Callable[[], object]) -> Callable[[], None]:
        """A pane's command run from the palette: show its tab first, so the result is visible."""
        def run() -> None:
            self.action_show_tab(tab)
            self.call_after_refresh(callback)
        return run
