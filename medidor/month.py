"""The agent's own count of this month's consumption, for its local limit alert.

The server raises its own alerts from what it stored; this one works offline too, which is the
point of having it: a meter cut off from the server still warns where it runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

_MONTHS = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro",
           "outubro", "novembro", "dezembro")


@dataclass(frozen=True, slots=True)
class MonthState:
    mes: str | None = None            # "2026-11"
    inicio_wh: float | None = None    # the counter when the month began (or when we first saw it)
    alertado: str | None = None       # the month whose alert was already shown


class MonthTracker:
    """Feed it every reading's (ts, counter); it says this month's kWh and when to alert."""

    def __init__(self, tz: ZoneInfo, limit_kwh: float, state: MonthState = MonthState()) -> None:
        self.tz = tz
        self.limit_kwh = limit_kwh
        self.state = state
        self._last_wh: float | None = None
        self.kwh: float | None = None

    def set_limit(self, limit_kwh: float) -> None:
        self.limit_kwh = limit_kwh
        # A new limit is a new question: warn again this month if it is passed too.
        self.state = MonthState(self.state.mes, self.state.inicio_wh, None)

    def observe(self, ts_ms: int, counter_wh: float) -> str | None:
        """Account one reading; returns the alert line when this month just passed the limit."""
        moment = datetime.fromtimestamp(ts_ms / 1000, self.tz)
        month = f"{moment.year:04d}-{moment.month:02d}"
        state = self.state
        if state.mes != month or state.inicio_wh is None or counter_wh < state.inicio_wh:
            # A new month starts from the last counter of the previous one; a counter below the
            # base is a reset meter, so counting restarts from it.
            base = self._last_wh if (self._last_wh is not None and self._last_wh <= counter_wh) else counter_wh
            state = MonthState(month, base, state.alertado if state.mes == month else None)
        self._last_wh = counter_wh
        self.kwh = (counter_wh - state.inicio_wh) / 1000
        alert = None
        if self.kwh > self.limit_kwh and state.alertado != month:
            state = MonthState(state.mes, state.inicio_wh, month)
            alert = (f"ALERTA: consumo de {_MONTHS[moment.month - 1]}/{moment.year} chegou a {_kwh(self.kwh)} kWh, "
                     f"acima do limite de {_kwh(self.limit_kwh)} kWh")
        self.state = state
        return alert


def _kwh(value: float) -> str:
    return f"{value:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".")
