"""Controle: pause and resume the meter, change its multiplier and alert limit (remote commands
the server applies at once and hands to the meter's agent), and edit its tariff (admin only,
widgets/tariff_editor.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Static

from .. import format as fmt
from ..background import call_api
from ..models import Command, Meter
from .base import MeterPane
from .keys import MeterKeys
from .node_control import NodeControl
from .tariff_editor import TariffEditor

VERB_TEXT = {"pausar": "pausar", "retomar": "retomar", "multiplicador": "mudar o multiplicador", "limite": "mudar o limite"}


def state_text(meter: Meter) -> str:
    state = "pausado (o agente do medidor não envia leituras)" if meter.paused else "ativo"
    pending = len(meter.comandos_pendentes)
    waiting = f" · {pending} comando(s) aguardando o agente do medidor" if pending else ""
    return (f"Estado: {state} · multiplicador {fmt.number(meter.multiplicador, 3)}"
            f" · limite {fmt.kwh(meter.limite_alerta_kwh) if meter.limite_alerta_kwh else 'nenhum'}{waiting}")


class ControlPane(MeterPane):
    TITLE = "Controle"
    BINDINGS = [Binding("p", "toggle_pause", "Pausar/retomar")]

    @dataclass
    class CommandSent(Message):
        command: Command

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="control-scroll"):
            yield Static(state_text(self.meter), id="control-state")
            # Compact widgets (one row each) so the commands fit above the fold at 80x24.
            yield Button(self._pause_label(self.meter), id="pause", variant="warning", compact=True)
            with Horizontal(classes="field"):
                yield Label("Multiplicador")
                yield Input(fmt.number(self.meter.multiplicador, 3), id="multiplicador", compact=True)
                yield Button("Enviar", id="send-multiplicador", compact=True)
            with Horizontal(classes="field"):
                yield Label("Limite de alerta (kWh)")
                yield Input(fmt.number(self.meter.limite_alerta_kwh or 0), id="limite", compact=True)
                yield Button("Enviar", id="send-limite", compact=True)
            yield NodeControl(self.meter, id="node-control")
            yield TariffEditor(id="tariff-editor")
            yield MeterKeys(self.meter, id="meter-keys")

    @staticmethod
    def _pause_label(meter: Meter) -> str:
        return "Retomar medidor (p)" if meter.paused else "Pausar medidor (p)"

    def show_meter(self, meter: Meter) -> None:
        changed_limit = meter.limite_alerta_kwh != self.meter.limite_alerta_kwh
        changed_mult = meter.multiplicador != self.meter.multiplicador
        super().show_meter(meter)
        self.query_one("#control-state", Static).update(state_text(meter))
        self.query_one("#pause", Button).label = self._pause_label(meter)
        self.query_one(NodeControl).show_meter(meter)
        # Refill a field only when its value changed on the server, not under someone typing.
        if changed_mult:
            self.query_one("#multiplicador", Input).value = fmt.number(meter.multiplicador, 3)
        if changed_limit:
            self.query_one("#limite", Input).value = fmt.number(meter.limite_alerta_kwh or 0)

    def reload(self) -> None:
        if self.meter.tarifa:
            self.query_one(TariffEditor).load(self.meter.tarifa)
        else:
            self.query_one("#tariff-title", Static).update("Tarifa: nenhuma associada a este medidor")

    # -- commands ---------------------------------------------------------------------------------

    @on(Button.Pressed, "#pause")
    def action_toggle_pause(self) -> None:
        self._send("retomar" if self.meter.paused else "pausar", None)

    @on(Button.Pressed, "#send-multiplicador")
    @on(Input.Submitted, "#multiplicador")
    def send_multiplier(self) -> None:
        self._send_number("multiplicador", "#multiplicador", "o multiplicador")

    @on(Button.Pressed, "#send-limite")
    @on(Input.Submitted, "#limite")
    def send_limit(self) -> None:
        self._send_number("limite", "#limite", "o limite")

    def _send_number(self, verb: str, field: str, name: str) -> None:
        try:
            value = fmt.parse_number(self.query_one(field, Input).value, name)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        if value <= 0:
            self.notify(f"{name} deve ser maior que zero.", severity="error")
            return
        self._send(verb, value)

    @work(thread=True, exclusive=True, group="comando")
    def _send(self, verb: str, value: float | None) -> None:
        command = call_api(self, VERB_TEXT[verb], lambda: self.app.api.send_command(self.meter.id, verb, value))
        if command is not None:
            self.post_message(self.CommandSent(command))

    def on_control_pane_command_sent(self, message: CommandSent) -> None:
        command = message.command
        value = "" if command.valor is None else f" ({fmt.number(command.valor, 3)})"
        self.notify(f"Comando enviado: {command.comando}{value}. O agente do medidor o recebe na próxima leitura.",
                    title="Controle")
        self.screen.reload()

    def focus_main(self) -> None:
        self.query_one("#pause", Button).focus()

    def palette_commands(self) -> Iterable[SystemCommand]:
        verb = "Retomar" if self.meter.paused else "Pausar"
        yield SystemCommand(f"Controle: {verb.lower()} o medidor", f"{verb} o medidor (p)", self.action_toggle_pause)
        yield SystemCommand("Controle: mudar o multiplicador", "Vai para o campo do multiplicador",
                            lambda: self.query_one("#multiplicador", Input).focus())
        yield SystemCommand("Controle: mudar o limite de alerta", "Vai para o campo do limite",
                            lambda: self.query_one("#limite", Input).focus())
        yield SystemCommand("Controle: editar a tarifa", "Vai para a versão da tarifa, em JSON",
                            lambda: self.query_one("#t-versao").focus())
        yield SystemCommand("Controle: salvar a tarifa", "Envia a versão editada (só administração)",
                            self.query_one(TariffEditor).action_save_version)
