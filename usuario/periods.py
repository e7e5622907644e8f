"""The windows the Consumo chart shows and how the arrow keys move through them.

Pure date arithmetic in the meter's local calendar (the server does the instants): an hourly
chart shows one day, a daily chart the last 30 days, a monthly chart the last 12 months, and the
previous window of the same length is drawn beside it for comparison.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .format import MONTHS

# A daily chart covers 30 days: "the last 30 days" is how people compare consumption, and 30 points
# still fit an 80-column terminal.
DAYS_PER_WINDOW = 30
# A monthly chart covers a year, so the previous window is the same months of last year.
MONTHS_PER_WINDOW = 12


@dataclass(frozen=True, slots=True)
class Window:
    """The local days [start, end], both included, charted per `interval`."""

    interval: str
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.interval not in ("hora", "dia", "mes"):
            raise ValueError(f"intervalo desconhecido: {self.interval!r}")
        if self.end < self.start:
            raise ValueError("a janela termina antes de começar")

    @property
    def title(self) -> str:
        if self.interval == "hora":
            return f"por hora em {self.start:%d/%m/%Y}"
        if self.interval == "dia":
            return f"por dia de {self.start:%d/%m} a {self.end:%d/%m/%Y}"
        return f"por mês de {MONTHS[self.start.month - 1]}/{self.start:%Y} a {MONTHS[self.end.month - 1]}/{self.end:%Y}"

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def current(interval: str, today: date) -> Window:
    """The window that ends with today."""
    if interval == "hora":
        return Window(interval, today, today)
    if interval == "dia":
        return Window(interval, today - timedelta(days=DAYS_PER_WINDOW - 1), today)
    first = _add_months(today.replace(day=1), -(MONTHS_PER_WINDOW - 1))
    return Window(interval, first, _month_end(today))


def shift(window: Window, steps: int) -> Window:
    """The window `steps` whole windows later (negative: earlier)."""
    if window.interval == "hora":
        day = window.start + timedelta(days=steps)
        return Window("hora", day, day)
    if window.interval == "dia":
        delta = timedelta(days=DAYS_PER_WINDOW * steps)
        return Window("dia", window.start + delta, window.end + delta)
    start = _add_months(window.start, MONTHS_PER_WINDOW * steps)
    return Window("mes", start, _month_end(_add_months(start, MONTHS_PER_WINDOW - 1)))


def previous(window: Window) -> Window:
    return shift(window, -1)


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    return _add_months(day.replace(day=1), 1) - timedelta(days=1)
