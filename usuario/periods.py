"""The windows the Consumo chart shows and how the arrow keys move through them.

Pure date arithmetic in the meter's local calendar (the server does the instants): an hourly
chart shows the last 24 hours (across midnight), a daily chart the last 31 days (across a month's
end), a monthly chart the last 12 months, and the previous window of the same length is drawn
beside it for comparison. A window has a fixed number of slots whatever the server has yet, so
just after midnight the hourly chart still shows yesterday's hours, not one "00h" point.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .format import MONTHS

# An hourly chart covers a day's worth of hours ending with the current one.
HOURS_PER_WINDOW = 24
# A daily chart covers 31 days: today and the same day last month are both in view, whatever the
# month's length, and 31 points still fit an 80-column terminal.
DAYS_PER_WINDOW = 31
# A monthly chart covers a year, so the previous window is the same months of last year.
MONTHS_PER_WINDOW = 12
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Window:
    """The local periods [start, end], both included, charted per `interval`.

    For "dia" and "mes" these are days (a month window runs from its first month's 1st to its last
    month's last day); for "hora" they are naive local datetimes, the starts of the first and the
    last hour.
    """

    interval: str
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.interval not in ("hora", "dia", "mes"):
            raise ValueError(f"intervalo desconhecido: {self.interval!r}")
        if (self.interval == "hora") != (isinstance(self.start, datetime) and isinstance(self.end, datetime)):
            raise ValueError("uma janela por hora vai de uma hora a outra; as outras, de um dia a outro")
        if self.end < self.start:
            raise ValueError("a janela termina antes de começar")

    @property
    def first_day(self) -> date:
        return self.start.date() if isinstance(self.start, datetime) else self.start

    @property
    def last_day(self) -> date:
        return self.end.date() if isinstance(self.end, datetime) else self.end

    @property
    def slots(self) -> int:
        """How many periods the window holds: the chart's x axis has this many places."""
        if self.interval == "hora":
            return int((self.end - self.start) / HOUR) + 1
        if self.interval == "dia":
            return (self.end - self.start).days + 1
        return _month_index(self.end) - _month_index(self.start) + 1

    def slot(self, local_start: datetime) -> int:
        """The place of the period starting at `local_start` (naive, local), maybe out of range."""
        if self.interval == "hora":
            return int((local_start.replace(minute=0, second=0, microsecond=0) - self.start) / HOUR)
        if self.interval == "dia":
            return (local_start.date() - self.start).days
        return _month_index(local_start.date()) - _month_index(self.start)

    def slot_start(self, index: int) -> date:
        """The start of the window's period number `index` (a datetime for hours, else a day)."""
        if self.interval == "hora":
            return self.start + index * HOUR
        if self.interval == "dia":
            return self.start + timedelta(days=index)
        return _add_months(self.start, index)

    @property
    def title(self) -> str:
        if self.interval == "hora":
            if self.start.date() == self.end.date():
                return f"por hora em {self.start:%d/%m/%Y}"
            return f"por hora de {self.start:%d/%m %H}h a {self.end:%d/%m/%Y %H}h"
        if self.interval == "dia":
            return f"por dia de {self.start:%d/%m} a {self.end:%d/%m/%Y}"
        return f"por mês de {MONTHS[self.start.month - 1]}/{self.start:%Y} a {MONTHS[self.end.month - 1]}/{self.end:%Y}"

    def contains(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


def current(interval: str, now: date) -> Window:
    """The window that ends with `now`: for hours, a datetime ends it at its hour (the last 24
    hours), a day gives that day's 24 hours; for days and months, the one holding `now`."""
    if interval == "hora":
        if isinstance(now, datetime):
            last = now.replace(minute=0, second=0, microsecond=0, tzinfo=None)
        else:
            last = datetime(now.year, now.month, now.day, 23)
        return Window(interval, last - (HOURS_PER_WINDOW - 1) * HOUR, last)
    today = now.date() if isinstance(now, datetime) else now
    if interval == "dia":
        return Window(interval, today - timedelta(days=DAYS_PER_WINDOW - 1), today)
    first = _add_months(today.replace(day=1), -(MONTHS_PER_WINDOW - 1))
    return Window(interval, first, _month_end(today))


def shift(window: Window, steps: int) -> Window:
    """The window `steps` whole windows later (negative: earlier)."""
    if window.interval == "hora":
        delta = HOURS_PER_WINDOW * steps * HOUR
        return Window("hora", window.start + delta, window.end + delta)
    if window.interval == "dia":
        delta = timedelta(days=DAYS_PER_WINDOW * steps)
        return Window("dia", window.start + delta, window.end + delta)
    start = _add_months(window.start, MONTHS_PER_WINDOW * steps)
    return Window("mes", start, _month_end(_add_months(start, MONTHS_PER_WINDOW - 1)))


def previous(window: Window) -> Window:
    return shift(window, -1)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _add_months(first_of_month: date, months: int) -> date:
    index = _month_index(first_of_month) + months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    return _add_months(day.replace(day=1), 1) - timedelta(days=1)
