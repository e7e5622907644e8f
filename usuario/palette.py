"""Textual's command palette with its words in Portuguese.

The search field's text is a documented parameter (`placeholder`). "No matches found" is not: Textual
8 writes it in `CommandPalette._start_no_matches_countdown`, so this subclass replaces that one
method with the same behaviour and a pt-BR message. tests/test_usuario_app.py types a search that
matches nothing and reads the message, so a Textual release that renames the method fails there
instead of bringing the English back silently.
"""
from __future__ import annotations

from rich.align import Align
from rich.text import Text
from textual.command import CommandList, CommandPalette
from textual.widgets.option_list import Option

PALETTE_PLACEHOLDER = "Busque um comando…"
THEMES_PLACEHOLDER = "Busque um tema…"
NO_MATCHES = "Nenhum comando encontrado"


class Palette(CommandPalette):
    def __init__(self, *args, placeholder: str = PALETTE_PLACEHOLDER, **kwargs) -> None:
        super().__init__(*args, placeholder=placeholder, **kwargs)

    def _start_no_matches_countdown(self, search_value: str) -> None:
        """After a moment without hits, say so in the list (only for a search, as Textual does)."""
        self._stop_no_matches_countdown()

        def show_no_matches() -> None:
            if search_value:
                self.query_one(CommandList).add_option(
                    Option(Align.center(Text(NO_MATCHES, style="not bold")), disabled=True, id=self._NO_MATCHES))
                self._list_visible = True
            else:
                self._list_visible = False

        self._no_matches_timer = self.set_timer(self._NO_MATCHES_COUNTDOWN, show_no_matches)
