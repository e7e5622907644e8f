"""Porta de controle, in the Controle tab: the commands of the meter's acquisition node (Tesla
Analyzer's remote control: STATUS, PAUSE, RESUME, FORCEREQ, GETVARS, GETID, RELOAD), sent straight
to the address its agent registered (`medidor --porta-controle`), not through the server."""
from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Static
from textual.worker import get_current_worker

from shared.node_client import NodeUnreachable, ask

from ..models import Meter

# Button id → (verb, what the person reads on the button).
ACTIONS = {
    "node-status": ("STATUS", "Estado"),
    "node-pause": ("PAUSE", "Pausar"),
    "node-resume": ("RESUME", "Retomar"),
    "node-force": ("FORCEREQ", "Ler agora"),
    "node-vars": ("GETVARS", "Valores"),
    "node-id": ("GETID", "Aparelho"),
    "node-reload": ("RELOAD", "Reler config"),
}
NO_PORT = "Porta de controle: nenhuma (medidor --porta-controle PORTA a abre)."


def title(meter: Meter) -> str:
    if not meter.controle:
        return NO_PORT
    return f"Porta de controle do nó de aquisição: {meter.controle}"


class NodeControl(Vertical):
    """The node's commands for one meter; the answer is shown as the node wrote it."""

    @dataclass
    class Answered(Message):
        verb: str
        text: str
        failed: bool

    def __init__(self, meter: Meter, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.meter = meter

    def compose(self) -> ComposeResult:
        yield Static(title(self.meter), id="node-title", markup=False)
        with Horizontal(classes="node-buttons"):
            for button_id, (_, label) in ACTIONS.items():
                yield Button(label, id=button_id, compact=True, disabled=not self.meter.controle)
        yield Input(placeholder="chave de controle (só para um nó em outra máquina)", password=True,
                    id="node-key", compact=True)
        yield Static("", id="node-answer", markup=False)

    def on_mount(self) -> None:
        self.show_meter(self.meter)

    def show_meter(self, meter: Meter) -> None:
        self.meter = meter
        self.query_one("#node-title", Static).update(title(meter))
        for button in self.query(".node-buttons Button").results(Button):
            button.disabled = not meter.controle
        # Without a port only the one-line hint shows: the tab keeps its commands above the fold.
        self.query_one(".node-buttons").display = bool(meter.controle)
        self.query_one("#node-key").display = bool(meter.controle)

    @on(Button.Pressed, ".node-buttons Button")
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        verb, _ = ACTIONS[str(event.button.id)]
        self.send(verb)

    def send(self, verb: str) -> None:
        if not self.meter.controle:
            self.notify(NO_PORT, severity="warning")
            return
        self.query_one("#node-answer", Static).update(f"{verb}: enviando a {self.meter.controle}…")
        self._ask(self.meter.controle, verb, self.meter.id, self.query_one("#node-key", Input).value.strip() or None)

    @work(thread=True, exclusive=True, group="porta-controle")
    def _ask(self, address: str, verb: str, meter_id: str, key: str | None) -> None:
        try:
            answer = ask(address, verb, meter_id, key=key)
        except NodeUnreachable as exc:
            text, failed = str(exc), True
        else:
            text, failed = answer.text or "(sem resposta)", answer.failed
        if not get_current_worker().is_cancelled:
            self.post_message(self.Answered(verb, text, failed))

    def on_node_control_answered(self, message: Answered) -> None:
        shown = message.text.replace("\t", "  ")
        self.query_one("#node-answer", Static).update(f"{message.verb}:\n{shown}")
        if message.failed:
            self.notify(f"{message.verb}: {shown.splitlines()[0] if shown else ''}", severity="error",
                        title="Porta de controle")
