"""Alertas: the meter's alerts, newest first; Enter (or r) acknowledges the one selected."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable, Static

from .. import format as fmt
from ..background import call_api
from ..models import Alert
from .base import MeterPane

# "Quando" (dd/mm/aaaa hh:mm), "Situação" ("reconhecido") and "Tipo" ("dispositivo") are this wide;
# the message takes the rest of the terminal's width, never less than MIN_MESSAGE_WIDTH.
FIXED_COLUMNS = (("quando", "Quando", 16), ("situacao", "Situação", 11), ("tipo", "Tipo", 11))
MIN_MESSAGE_WIDTH = 30
# Each of the four columns has one cell of padding on each side; the vertical scrollbar takes one.
PADDING = 4 * 2 + 1
KINDS = {
    "limite_excedido": "limite", "projecao_limite": "projeção", "silencio": "silêncio",
    "reinicio_contador": "contador", "falha_dispositivo": "dispositivo", "spool_cheio": "fila cheia",
}


def message_width(pane_width: int) -> int:
    """The message column's width in a pane `pane_width` cells wide."""
    return max(MIN_MESSAGE_WIDTH, pane_width - PADDING - sum(width for _, _, width in FIXED_COLUMNS))


class AlertsPane(MeterPane):
    TITLE = "Alertas"
    BINDINGS = [Binding("r", "acknowledge", "Reconhecer")]

    @dataclass
    class Loaded(Message):
        alerts: tuple[Alert, ...]

    @dataclass
    class Acknowledged(Message):
        alert: Alert

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._alerts: tuple[Alert, ...] = ()
        self._loaded = False
        # Acknowledge asked for (from the palette) before the list arrived: done once it does.
        self._acknowledge_when_loaded = False

    def compose(self) -> ComposeResult:
        yield Static("", id="alerts-status")
        yield DataTable(id="alerts", cursor_type="row", zebra_stripes=True)
        # The table cuts long messages at 80 columns; the selected one is shown whole here.
        yield Static("", id="alert-detail")

    def on_mount(self) -> None:
        self._message_width = MIN_MESSAGE_WIDTH
        self._add_columns()

    def _add_columns(self) -> None:
        table = self.query_one("#alerts", DataTable)
        for key, label, width in FIXED_COLUMNS:
            table.add_column(label, key=key, width=width)
        table.add_column("Mensagem", key="mensagem", width=self._message_width)

    def on_resize(self, event: Resize) -> None:
        """The message column takes the width the terminal has (Textual's columns have no public
        resize, so the table is rebuilt, keeping the selected alert)."""
        width = message_width(event.size.width)
        if width == self._message_width:
            return
        self._message_width = width
        selected = self.selected
        self.query_one("#alerts", DataTable).clear(columns=True)
        self._add_columns()
        self._show_alerts(None if selected is None else selected.id)

    def reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="alertas")
    def _load(self) -> None:
        alerts = call_api(self, "carregar os alertas", lambda: self.app.api.alerts(self.meter.id))
        if alerts is not None:
            self.post_message(self.Loaded(alerts))

    def on_alerts_pane_loaded(self, message: Loaded) -> None:
        selected = self.selected.id if self.selected else None
        # The server lists newest first already; sorting here keeps that true whatever it sends.
        self._alerts = tuple(sorted(message.alerts, key=lambda a: a.criado_em, reverse=True))
        first_load = not self._loaded
        self._loaded = True
        self._show_alerts(selected)
        if first_load and self._acknowledge_when_loaded:
            self._acknowledge_when_loaded = False
            self.action_acknowledge()

    def _show_alerts(self, selected: str | None) -> None:
        table = self.query_one("#alerts", DataTable)
        table.clear()
        for alert in self._alerts:
            state = Text("reconhecido", style="dim") if alert.reconhecido else Text("ativo", style="bold red")
            table.add_row(fmt.moment(alert.criado_em, self.meter.tz), state, KINDS.get(alert.tipo, alert.tipo),
                          Text(alert.mensagem, overflow="ellipsis", no_wrap=True), key=alert.id)
        ids = [a.id for a in self._alerts]
        if selected in ids:
            table.move_cursor(row=ids.index(selected), animate=False)
        active = sum(1 for a in self._alerts if not a.reconhecido)
        if not self._alerts:
            status = "Nenhum alerta para este medidor."
        else:
            noun = "alerta" if len(self._alerts) == 1 else "alertas"
            status = f"{len(self._alerts)} {noun}, {active} {'ativo' if active == 1 else 'ativos'} · Enter ou r reconhece o selecionado"
        self.query_one("#alerts-status", Static).update(status)
        self._show_detail()

    @on(DataTable.RowHighlighted, "#alerts")
    def _show_detail(self) -> None:
        alert = self.selected
        self.query_one("#alert-detail", Static).update("" if alert is None else alert.mensagem)

    @property
    def selected(self) -> Alert | None:
        table = self.query_one("#alerts", DataTable)
        if not self._alerts or not table.row_count:
            return None
        return self._alerts[min(table.cursor_row, len(self._alerts) - 1)]

    @on(DataTable.RowSelected, "#alerts")
    def action_acknowledge(self) -> None:
        alert = self.selected
        if alert is None and not self._loaded:
            self._acknowledge_when_loaded = True
            return
        if alert is None:
            self.notify("Nenhum alerta selecionado.", severity="warning")
        elif alert.reconhecido:
            self.notify("Este alerta já foi reconhecido.")
        else:
            self._acknowledge(alert)

    @work(thread=True, exclusive=True, group="reconhecer")
    def _acknowledge(self, alert: Alert) -> None:
        done = call_api(self, "reconhecer o alerta", lambda: self.app.api.acknowledge(self.meter.id, alert.id))
        if done is not None:
            self.post_message(self.Acknowledged(done))

    def on_alerts_pane_acknowledged(self, message: Acknowledged) -> None:
        self.notify(f"Alerta reconhecido: {message.alert.mensagem}")
        self._alerts = tuple(message.alert if a.id == message.alert.id else a for a in self._alerts)
        self.reload()
        # The overview's count of active alerts changed too.
        self.screen.reload()

    def focus_main(self) -> None:
        self.query_one("#alerts", DataTable).focus()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Alertas: reconhecer o selecionado", "Marca o alerta selecionado como visto (r)", self.action_acknowledge)
