"""Chaves do medidor, in the Controle tab: the meter's keys by public id, replaced (a leaked key
stops working at once) or revoked. Admin key only; a new key is shown once and copied to the
clipboard, since the server keeps only its hash."""
from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from ..background import call_api
from ..models import Meter, MeterKey

ROLE_NAMES = {"escrita": "escrita (a do agente)", "leitura": "leitura (a do dono)"}
# What a new write key needs next: the agent still holds the old one.
AGENT_HINT = "Passe a nova chave de escrita ao agente: medidor --id {id} --chave-escrita <chave>."


def keys_text(keys: tuple[MeterKey, ...]) -> str:
    if not keys:
        return "Nenhuma chave: o medidor só é acessível com a chave de administração."
    lines = []
    for key in sorted(keys, key=lambda k: k.papel):
        since = f", desde {key.criado_em[:10]}" if key.criado_em else ""
        lines.append(f"• {ROLE_NAMES.get(key.papel, key.papel)}: …{key.id_chave or '?'}…{since}")
    return "\n".join(lines)


class MeterKeys(Vertical):
    """The meter's keys and the buttons that replace or revoke them."""

    @dataclass
    class Listed(Message):
        keys: tuple[MeterKey, ...]

    @dataclass
    class Made(Message):
        keys: dict[str, str]

    @dataclass
    class Revoked(Message):
        role: str

    def __init__(self, meter: Meter, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.meter = meter
        self._armed: str | None = None  # the role whose revoke button was pressed once
        self._admin = False
        self._loaded = False

    def compose(self) -> ComposeResult:
        yield Static("Chaves do medidor", id="keys-title")
        yield Static("", id="keys-list")
        with Horizontal(classes="key-buttons"):
            yield Button("Nova chave de escrita", id="key-new-escrita", compact=True)
            yield Button("Nova chave de leitura", id="key-new-leitura", compact=True)
        with Horizontal(classes="key-buttons"):
            yield Button("Revogar a de escrita", id="key-revoke-escrita", variant="error", compact=True)
            yield Button("Revogar a de leitura", id="key-revoke-leitura", variant="error", compact=True)
        yield Static("", id="key-shown")

    def on_mount(self) -> None:
        api = self.app.api
        self._admin = api is not None and not api.is_meter_key
        if not self._admin:
            for button in self.query(Button):
                button.disabled = True
            self.query_one("#keys-list", Static).update(
                "Só a chave de administração vê e troca as chaves do medidor.")

    def on_show(self) -> None:
        """Loaded when the Controle tab first shows it, like the tab's other data."""
        if self._admin and not self._loaded:
            self._loaded = True
            self.reload()

    @work(thread=True, exclusive=True, group="chaves")
    def reload(self) -> None:
        keys = call_api(self, "carregar as chaves", lambda: self.app.api.meter_keys(self.meter.id))
        if keys is not None:
            self.post_message(self.Listed(keys))

    def on_meter_keys_listed(self, message: Listed) -> None:
        self.query_one("#keys-list", Static).update(keys_text(message.keys))

    # -- replace ----------------------------------------------------------------------------------

    @on(Button.Pressed, "#key-new-escrita")
    def new_write_key(self) -> None:
        self._disarm()
        self._replace(("escrita",))

    @on(Button.Pressed, "#key-new-leitura")
    def new_read_key(self) -> None:
        self._disarm()
        self._replace(("leitura",))

    @work(thread=True, exclusive=True, group="chaves-troca")
    def _replace(self, roles: tuple[str, ...]) -> None:
        made = call_api(self, "trocar a chave", lambda: self.app.api.replace_keys(self.meter.id, roles))
        if made is not None:
            self.post_message(self.Made(made))

    def on_meter_keys_made(self, message: Made) -> None:
        lines = [f"{name.removeprefix('chave_')}: {key}" for name, key in message.keys.items()]
        hint = f"\n{AGENT_HINT.format(id=self.meter.id)}" if "chave_escrita" in message.keys else ""
        self.query_one("#key-shown", Static).update(
            "Chave nova (mostrada só agora; a anterior já não vale):\n" + "\n".join(lines) + hint)
        self.app.copy_to_clipboard("\n".join(message.keys.values()))
        self.notify("Chave nova criada e copiada; a anterior deixou de valer.", title="Chaves")
        self.reload()

    # -- revoke: the first press arms the button, the second revokes ---------------------------------

    @on(Button.Pressed, "#key-revoke-escrita")
    def revoke_write_key(self) -> None:
        self._press_revoke("escrita")

    @on(Button.Pressed, "#key-revoke-leitura")
    def revoke_read_key(self) -> None:
        self._press_revoke("leitura")

    def _press_revoke(self, role: str) -> None:
        if self._armed != role:
            self._disarm()
            self._armed = role
            self.query_one(f"#key-revoke-{role}", Button).label = f"Confirmar: revogar a de {role}"
            return
        self._disarm()
        self._revoke(role)

    def _disarm(self) -> None:
        if self._armed is not None:
            self.query_one(f"#key-revoke-{self._armed}", Button).label = f"Revogar a de {self._armed}"
            self._armed = None

    @work(thread=True, exclusive=True, group="chaves-troca")
    def _revoke(self, role: str) -> None:
        done = call_api(self, "revogar a chave", lambda: self.app.api.revoke_key(self.meter.id, role) or True)
        if done:
            self.post_message(self.Revoked(role))

    def on_meter_keys_revoked(self, message: Revoked) -> None:
        self.query_one("#key-shown", Static).update(
            f"Chave de {message.role} revogada: nenhuma a substitui até você criar outra.")
        self.notify(f"Chave de {message.role} revogada.", title="Chaves")
        self.reload()
