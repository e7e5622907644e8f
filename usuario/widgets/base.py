"""What every tab of the meter screen shares: the meter it shows, and loading on first view."""
from __future__ import annotations

from typing import Iterable

from textual.app import SystemCommand
from textual.containers import Vertical
from textual.widgets import Tabs

from ..models import Meter


class MeterPane(Vertical):
    """One tab's content. The meter screen calls `show_meter` whenever the meter is re-read,
    `activated` when the tab comes into view and `reload` when the person asks (F5) or the
    server comes back. A pane fetches its own data only once it has been seen."""

    TITLE = ""

    def __init__(self, meter: Meter, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.meter = meter
        self.seen = False

    def show_meter(self, meter: Meter) -> None:
        self.meter = meter

    def activated(self) -> None:
        if not self.seen:
            self.seen = True
            self.reload()
        self.focus_main()

    def deactivated(self) -> None:
        """The tab left view; panes with running work stop it here."""

    def reload(self) -> None:
        """Fetch this tab's data again (in a worker)."""

    def focus_main(self) -> None:
        """Focus the widget whose keys this tab is about; by default the tab bar, so the arrows
        move between tabs. Focus must leave the previous tab: TabbedContent shows the tab that
        holds the focused widget, and would switch right back to it."""
        self.screen.query_one("#tabs").query_one(Tabs).focus()

    def palette_commands(self) -> Iterable[SystemCommand]:
        return ()
