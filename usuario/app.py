"""The terminal app: which screen is on top, the connection state every screen shares (the banner
and its retries), the theme, and the command palette's entries.

Screens and widgets do the rest; this module only holds what is app-wide.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.command import CommandPalette
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer

from .api import ApiClient, ApiError, Forbidden, NotFound, ServerUnreachable, Unauthorized, describe_auth_problem
from .config import Settings, save_config
from .messages import ApiFailed, ApiSucceeded, Reconnected
from .models import MeterList
from .palette import THEMES_PLACEHOLDER, Palette
from .screens.connect import ConnectScreen
from .screens.meters import MetersScreen

# How long one live long poll waits for a reading. The server allows 55 s, but a thread blocked
# in a socket read cannot be interrupted through HttpClient, and Python joins worker threads at
# exit: this bounds how long quitting or leaving the tab can take. A reading still shows at once.
LIVE_WAIT_S = 3.0
# Screens re-read their numbers this often: agents report every 10 s, so faster shows nothing new.
REFRESH_S = 10.0
# Delays between reconnection attempts: the first is quick (a restarted server is back within a
# second or two), then they grow so a server that is down for good is not hammered, capped so
# the app still notices within seconds when it returns.
RETRY_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 10.0)


Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


class UsuarioApp(App[None]):
    """monitor-energia's terminal app. `api_factory` and `clock` are injectable for tests."""

    CSS_PATH = "usuario.tcss"
    TITLE = "monitor-energia"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Sair", priority=True),
        Binding("ctrl+p", "command_palette", "Comandos", show=False, priority=True),
        # In the palette ("Tema claro ou escuro"), not in the footer: 80 columns are short.
        Binding("ctrl+t", "switch_theme", "Tema", show=False),
        # Screens re-read every REFRESH_S anyway; F5 (and the palette's "Atualizar") is for now.
        Binding("f5", "reload", "Atualizar", show=False),
    ]

    offline_reason: reactive[str | None] = reactive(None)
    """Why the server is unreachable, or None while it answers. The banner shows it."""
    retry_at: reactive[float | None] = reactive(None)
    """time.monotonic() of the next reconnection attempt."""
    retry_attempt: reactive[int] = reactive(0)

    class ProbeFinished(Message):
        def __init__(self, error: ApiError | None) -> None:
            super().__init__()
            self.error = error

    def __init__(
        self,
        settings: Settings,
        *,
        api_factory: Callable[[str, str | None], ApiClient] = ApiClient,
        clock: Clock = system_clock,
        live_wait_s: float = LIVE_WAIT_S,
        refresh_s: float = REFRESH_S,
        retry_backoff_s: tuple[float, ...] = RETRY_BACKOFF_S,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.api_factory = api_factory
        self.clock = clock
        self.live_wait_s = live_wait_s
        self.refresh_s = refresh_s
        self.retry_backoff_s = retry_backoff_s
        self.export_dir: Path = settings.exportar_para
        self.api: ApiClient | None = None
        self._retry_timer: Timer | None = None

    # -- screens ----------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.theme = self.settings.textual_theme
        self.push_screen(ConnectScreen(self.settings.servidor, self.settings.chave, settings=self.settings))

    def use_api(self, api: ApiClient) -> None:
        """Make `api` the one every screen uses from now on."""
        if self.api is not None and self.api is not api:
            self.api.close()
        self.api = api
        self.sub_title = api.base_url

    def open_meters(self, meters: MeterList, *, remember: bool) -> None:
        """The connection works: show the meters (and save the address and key if asked)."""
        if remember and self.api is not None and self.api.key:
            self._remember(self.api.base_url, self.api.key)
        self.switch_screen(MetersScreen(meters))

    def _remember(self, servidor: str, chave: str) -> None:
        try:
            save_config(self.settings.config_path, servidor, chave)
        except OSError as exc:
            self.notify(f"Não consegui salvar {self.settings.config_path}: {exc}", severity="error")
        else:
            self.notify(f"Endereço e chave salvos em {self.settings.config_path}.")

    def action_change_connection(self, problem: str | None = None) -> None:
        servidor = self.api.base_url if self.api else self.settings.servidor
        chave = self.api.key if self.api else self.settings.chave
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(ConnectScreen(servidor, chave, settings=self.settings, problem=problem, auto=False))

    # -- the connection state ---------------------------------------------------------------------

    def on_api_failed(self, message: ApiFailed) -> None:
        error = message.error
        if isinstance(error, ServerUnreachable):
            self.go_offline(error.message)
        elif isinstance(error, Unauthorized):
            # The key worked when the session started: it was revoked. Only a new key helps.
            # Several workers may hit it at once; the first one opens the connection screen.
            if not isinstance(self.screen, ConnectScreen):
                self.action_change_connection(problem=describe_auth_problem(error))
        elif isinstance(error, Forbidden):
            self.notify(describe_auth_problem(error, action=message.action), title="Sem permissão", severity="error")
        elif isinstance(error, NotFound):
            self.notify(f"Não foi possível {message.action}: {error.message}", severity="warning")
        else:
            self.notify(f"Não foi possível {message.action}: {error.message}", severity="error")

    def on_api_succeeded(self, _message: ApiSucceeded) -> None:
        self.server_answered()

    def server_answered(self, *, reload_screen: bool = True) -> None:
        """A call got an answer: if the banner is up, the server is back."""
        if self.offline_reason is not None:
            self._back_online(reload_screen=reload_screen)

    def go_offline(self, reason: str) -> None:
        """Show the banner and keep trying to reach the server until it answers."""
        first = self.offline_reason is None
        self.offline_reason = reason
        if first:
            self.retry_attempt = 0
            self._schedule_probe()

    def _schedule_probe(self) -> None:
        if self._retry_timer is not None:
            self._retry_timer.stop()
        delay = self.retry_backoff_s[min(self.retry_attempt, len(self.retry_backoff_s) - 1)]
        self.retry_at = time.monotonic() + delay
        self._retry_timer = self.set_timer(delay, self._probe)

    @work(thread=True, exclusive=True, group="probe")
    def _probe(self) -> None:
        api = self.api
        if api is None:
            return
        try:
            api.health()
        except ApiError as error:
            self.post_message(self.ProbeFinished(error))
        else:
            self.post_message(self.ProbeFinished(None))

    def on_usuario_app_probe_finished(self, message: ProbeFinished) -> None:
        if self.offline_reason is None:
            return
        if message.error is None:
            self._back_online()
            return
        self.retry_attempt += 1
        self.offline_reason = message.error.message
        self._schedule_probe()

    def _back_online(self, *, reload_screen: bool = True) -> None:
        if self._retry_timer is not None:
            self._retry_timer.stop()
            self._retry_timer = None
        self.offline_reason = None
        self.retry_at = None
        self.notify("O servidor voltou a responder.", title="Conectado")
        if reload_screen:
            self.screen.post_message(Reconnected())

    # -- actions ----------------------------------------------------------------------------------

    def action_reload(self) -> None:
        """F5: retry now when the server is away, otherwise re-read what the screen shows."""
        if self.offline_reason is not None:
            if self._retry_timer is not None:
                self._retry_timer.stop()
            self.retry_at = None
            self._probe()
            return
        self.screen.post_message(Reconnected())

    def action_command_palette(self) -> None:
        """Ctrl+P: Textual's palette, with its search field in Portuguese."""
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(Palette(id="--command-palette"))

    def search_themes(self) -> None:
        from textual.theme import ThemeProvider

        self.push_screen(Palette(providers=[ThemeProvider], placeholder=THEMES_PLACEHOLDER))

    def action_switch_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette in pt-BR: the app's actions, then every action of the screen on top."""
        yield SystemCommand("Tema claro ou escuro", "Alterna entre o tema claro e o escuro (Ctrl+T)", self.action_switch_theme)
        yield SystemCommand("Escolher tema", "Escolhe um dos temas do Textual", self.action_change_theme)
        yield SystemCommand("Atualizar", "Lê de novo os dados da tela; sem conexão, tenta reconectar (F5)", self.action_reload)
        yield SystemCommand("Trocar servidor ou chave", "Volta à tela de conexão", self.action_change_connection)
        yield SystemCommand("Teclas", "Mostra as teclas da tela e do item em foco", self.action_show_help_panel)
        yield SystemCommand("Sair", "Fecha o aplicativo (Ctrl+Q)", self.action_quit)
        commands = getattr(screen, "palette_commands", None)
        if commands is not None:
            yield from commands()
