"""The banner every screen shows while the server is unreachable, with the next retry's countdown."""
from __future__ import annotations

import math
import time

from textual.widgets import Static

# The countdown changes once a second; half a second keeps it from skipping a number.
TICK_S = 0.5


class Banner(Static):
    """Hidden while the server answers; reads the app's `offline_reason` and `retry_at`."""

    def on_mount(self) -> None:
        self._ticker = self.set_interval(TICK_S, self._update, pause=True)
        self.watch(self.app, "offline_reason", self._update)
        self.watch(self.app, "retry_at", self._update)

    def _update(self, _value: object = None) -> None:
        reason = getattr(self.app, "offline_reason", None)
        self.display = reason is not None
        if reason is None:
            self._ticker.pause()
            return
        self._ticker.resume()
        retry_at = getattr(self.app, "retry_at", None)
        if retry_at is None:
            when = "tentando agora…"
        else:
            seconds = max(0, math.ceil(retry_at - time.monotonic()))
            when = f"nova tentativa em {seconds} s" if seconds else "tentando agora…"
        self.update(f"⚠ Sem conexão com o servidor: {reason}. {when} (F5 tenta já)")
