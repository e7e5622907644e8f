"""The connection screen: the server address and the key, what is wrong with them, and a way to
fix them. With both given on start it connects at once and is only seen if that fails."""
from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, Static
from textual.worker import get_current_worker

from ..api import ApiClient, ApiError, Forbidden, ServerUnreachable, Unauthorized, describe_auth_problem
from ..config import ENV_KEY, ENV_SERVER, Settings
from ..messages import Reconnected
from ..models import MeterList
from ..widgets.banner import Banner


class ConnectScreen(Screen[None]):
    BINDINGS = [Binding("ctrl+s", "connect", "Conectar")]

    @dataclass
    class Checked(Message):
        """The attempt finished: the meters the key sees, or why not."""

        api: ApiClient
        meters: MeterList | None
        error: ApiError | None

    def __init__(self, servidor: str | None, chave: str | None, *, settings: Settings,
                 problem: str | None = None, auto: bool = True) -> None:
        super().__init__()
        self._servidor = servidor or ""
        self._chave = chave or ""
        self._settings = settings
        self._problem = problem
        self._auto = auto

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        with Vertical(id="connect-box"):
            yield Static("Conectar ao servidor do monitor-energia", id="connect-title")
            yield Label("Endereço do servidor")
            # Compact fields (one row each): the whole form and its message fit in 24 rows.
            yield Input(self._servidor, placeholder="http://127.0.0.1:5000", id="servidor", compact=True)
            yield Label("Chave (administração ou leitura de um medidor, ml_…)")
            yield Input(self._chave, placeholder="demo-admin", password=True, id="chave", compact=True)
            with Horizontal(id="connect-actions"):
                yield Checkbox("Lembrar nesta máquina", id="lembrar", compact=True)
                yield Button("Conectar", variant="primary", id="conectar", compact=True)
            yield Static("", id="connect-problem")
            yield Static(
                f"Também por --servidor/--chave, {ENV_SERVER}/{ENV_KEY} ou {self._settings.config_path}.",
                id="connect-hint",
            )
        yield Footer()

    def on_mount(self) -> None:
        if self._problem:
            self._show_problem(self._problem)
        missing = [name for name, value in (("o endereço do servidor", self._servidor), ("a chave", self._chave)) if not value]
        if missing:
            self._show_problem(f"Falta {' e '.join(missing)}.")
            self.query_one("#servidor" if not self._servidor else "#chave", Input).focus()
        elif self._auto:
            self.action_connect()
        else:
            self.query_one("#chave", Input).focus()

    def _show_problem(self, text: str, *, problem: bool = True) -> None:
        line = self.query_one("#connect-problem", Static)
        line.update(text)
        line.set_class(problem and bool(text), "problem")

    @on(Input.Submitted)
    @on(Button.Pressed, "#conectar")
    def action_connect(self) -> None:
        servidor = self.query_one("#servidor", Input).value.strip()
        chave = self.query_one("#chave", Input).value.strip()
        if not servidor or not chave:
            self._show_problem("Informe o endereço do servidor e a chave.")
            return
        try:
            api = self.app.api_factory(servidor, chave)
        except ValueError as exc:
            self._show_problem(f"Endereço inválido: {exc}")
            self.query_one("#servidor", Input).focus()
            return
        self.app.use_api(api)
        self._show_problem(f"Conectando a {api.base_url}…", problem=False)
        self._check(api)

    @work(thread=True, exclusive=True, group="connect")
    def _check(self, api: ApiClient) -> None:
        try:
            meters = api.meters()
        except ApiError as error:
            if not get_current_worker().is_cancelled:
                self.post_message(self.Checked(api, None, error))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.Checked(api, meters, None))

    def on_connect_screen_checked(self, message: Checked) -> None:
        if message.api is not self.app.api:
            return  # an older attempt, with an address or key since replaced
        error = message.error
        if error is None and message.meters is not None:
            self.app.server_answered(reload_screen=False)
            self.app.open_meters(message.meters, remember=self.query_one("#lembrar", Checkbox).value)
            return
        assert error is not None
        if isinstance(error, ServerUnreachable):
            # Keep retrying on our own: the server may simply not be up yet.
            self._show_problem(f"Servidor inacessível: {error.message}. Confira o endereço; tentando de novo.")
            self.app.go_offline(error.message)
            self.query_one("#servidor", Input).focus()
        elif isinstance(error, Unauthorized):
            self._show_problem(describe_auth_problem(error) + self._source_hint(self._settings.chave_source))
            self.query_one("#chave", Input).focus()
        elif isinstance(error, Forbidden):
            self._show_problem("Esta chave não lista medidores (é a de registro?). " + describe_auth_problem(error, action="ver os medidores"))
            self.query_one("#chave", Input).focus()
        else:
            self._show_problem(f"O servidor recusou: {error.message}")

    def _source_hint(self, source: str) -> str:
        """Where a refused key came from, while it is still the one given at start."""
        unchanged = self.query_one("#chave", Input).value.strip() == self._chave
        return f" A chave recusada veio de {source}." if source and unchanged else ""

    def on_reconnected(self, _message: Reconnected) -> None:
        self.action_connect()
