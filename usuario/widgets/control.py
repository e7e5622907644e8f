"""Controle: pause and resume the meter, change its multiplier and alert limit (remote commands
the server applies at once and hands to the meter's agent), and edit its tariff (admin only)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Static

from .. import format as fmt
from ..background import call_api
from ..models import Command, Meter, Tariff, TariffBand
from .base import MeterPane
from .keys import MeterKeys

OPEN_BAND = ("acima", "*", "")
VERB_TEXT = {"pausar": "pausar", "retomar": "retomar", "multiplicador": "mudar o multiplicador", "limite": "mudar o limite"}


def format_bands(bands: tuple[TariffBand, ...]) -> str:
    """`100: 0,62; acima: 0,81`, the text the Faixas field shows and reads back."""
    parts = []
    for band in bands:
        upto = "acima" if band.ate_kwh is None else fmt.number(band.ate_kwh, 3).rstrip("0").rstrip(",")
        parts.append(f"{upto}: {fmt.number(band.preco_kwh, 6).rstrip('0').rstrip(',')}")
    return "; ".join(parts)


def parse_bands(text: str) -> tuple[TariffBand, ...]:
    """The inverse of format_bands; ValueError in pt-BR naming the band that is wrong."""
    bands = []
    for n, part in enumerate(p for p in text.split(";") if p.strip()):
        upto_text, sep, price_text = part.partition(":")
        if not sep:
            raise ValueError(f"faixa {n + 1}: escreva 'até_kWh: preço', como '100: 0,62' ou 'acima: 0,81'")
        upto_text = upto_text.strip().casefold()
        upto = None if upto_text in OPEN_BAND else fmt.parse_number(upto_text, f"faixa {n + 1}")
        price = Decimal(repr(fmt.parse_number(price_text, f"preço da faixa {n + 1}")))
        bands.append(TariffBand(upto, price))
    return tuple(bands)


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

    @dataclass
    class TariffLoaded(Message):
        tariff: Tariff
        saved: bool = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._tariff: Tariff | None = None

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
            yield Static("Tarifa", id="tariff-title")
            for field_id, label in (("t-nome", "Nome"), ("t-preco", "Preço por kWh (R$)"),
                                    ("t-taxa", "Taxa fixa mensal (R$)"), ("t-impostos", "Impostos (%)"),
                                    ("t-faixas", "Faixas (até kWh: preço)")):
                with Horizontal(classes="field"):
                    yield Label(label)
                    yield Input(id=field_id, classes="tariff-field", compact=True)
            yield Button("Salvar tarifa", id="save-tariff", variant="primary", compact=True)
            yield Static("", id="tariff-note")
            yield MeterKeys(self.meter, id="meter-keys")

    @staticmethod
    def _pause_label(meter: Meter) -> str:
        return "Retomar medidor (p)" if meter.paused else "Pausar medidor (p)"

    def on_mount(self) -> None:
        if self.app.api is not None and self.app.api.is_meter_key:
            for field in self.query(".tariff-field"):
                field.disabled = True
            self.query_one("#save-tariff", Button).disabled = True
            self.query_one("#tariff-note", Static).update(
                "Só a chave de administração altera tarifas; esta é a chave de leitura do medidor.")

    def show_meter(self, meter: Meter) -> None:
        changed_limit = meter.limite_alerta_kwh != self.meter.limite_alerta_kwh
        changed_mult = meter.multiplicador != self.meter.multiplicador
        super().show_meter(meter)
        self.query_one("#control-state", Static).update(state_text(meter))
        self.query_one("#pause", Button).label = self._pause_label(meter)
        # Refill a field only when its value changed on the server, not under someone typing.
        if changed_mult:
            self.query_one("#multiplicador", Input).value = fmt.number(meter.multiplicador, 3)
        if changed_limit:
            self.query_one("#limite", Input).value = fmt.number(meter.limite_alerta_kwh or 0)

    def reload(self) -> None:
        if self.meter.tarifa:
            self._load_tariff(self.meter.tarifa)
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

    # -- tariff -----------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="tarifa")
    def _load_tariff(self, tariff_id: str) -> None:
        tariff = call_api(self, "carregar a tarifa", lambda: self.app.api.tariff(tariff_id))
        if tariff is not None:
            self.post_message(self.TariffLoaded(tariff))

    def on_control_pane_tariff_loaded(self, message: TariffLoaded) -> None:
        tariff = message.tariff
        self._tariff = tariff
        self.query_one("#tariff-title", Static).update(
            f"Tarifa «{tariff.id}» (vale para todos os medidores que a usam)")
        values = {"#t-nome": tariff.nome, "#t-preco": fmt.number(tariff.preco_kwh, 6).rstrip("0").rstrip(","),
                  "#t-taxa": fmt.number(tariff.taxa_fixa_mensal), "#t-impostos": fmt.number(tariff.impostos_pct),
                  "#t-faixas": format_bands(tariff.faixas)}
        for selector, value in values.items():
            self.query_one(selector, Input).value = value
        if message.saved:
            self.notify(f"Tarifa «{tariff.id}» salva.", title="Controle")

    @on(Button.Pressed, "#save-tariff")
    def action_save_tariff(self) -> None:
        if self._tariff is None:
            self.notify("A tarifa ainda não foi carregada.", severity="warning")
            return
        try:
            tariff = Tariff(
                id=self._tariff.id,
                nome=self.query_one("#t-nome", Input).value.strip() or self._tariff.nome,
                preco_kwh=Decimal(repr(fmt.parse_number(self.query_one("#t-preco", Input).value, "preço por kWh"))),
                taxa_fixa_mensal=Decimal(repr(fmt.parse_number(self.query_one("#t-taxa", Input).value, "taxa fixa"))),
                impostos_pct=Decimal(repr(fmt.parse_number(self.query_one("#t-impostos", Input).value, "impostos"))),
                faixas=parse_bands(self.query_one("#t-faixas", Input).value),
            )
        except ValueError as exc:
            self.notify(str(exc), severity="error", title="Tarifa")
            return
        self._save_tariff(tariff)

    @work(thread=True, exclusive=True, group="tarifa")
    def _save_tariff(self, tariff: Tariff) -> None:
        saved = call_api(self, "salvar a tarifa", lambda: self.app.api.save_tariff(tariff))
        if saved is not None:
            self.post_message(self.TariffLoaded(saved, saved=True))

    def focus_main(self) -> None:
        self.query_one("#pause", Button).focus()

    def palette_commands(self) -> Iterable[SystemCommand]:
        verb = "Retomar" if self.meter.paused else "Pausar"
        yield SystemCommand(f"Controle: {verb.lower()} o medidor", f"{verb} o medidor (p)", self.action_toggle_pause)
        yield SystemCommand("Controle: mudar o multiplicador", "Vai para o campo do multiplicador",
                            lambda: self.query_one("#multiplicador", Input).focus())
        yield SystemCommand("Controle: mudar o limite de alerta", "Vai para o campo do limite",
                            lambda: self.query_one("#limite", Input).focus())
        yield SystemCommand("Controle: editar a tarifa", "Vai para o formulário da tarifa",
                            lambda: self.query_one("#t-preco", Input).focus())
        yield SystemCommand("Controle: salvar a tarifa", "Envia a tarifa editada (só administração)", self.action_save_tariff)
