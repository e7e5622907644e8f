"""Tesla Analyzer's `tempsgravacio`: read every `tempslectura` seconds, record one averaged
reading per window of N minutes, windows aligned to the local clock (hh:00, hh:15, …).

The recorded reading carries the mean of every measurement over the window and the energy
counter of the window's last read, stamped at that read: a counter must be paired with the
instant it was read, or consumption would be misplaced between buckets.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from medidor.sources import Measurement


class WindowAverager:
    """Feed measurements in time order; `add` returns a window's average when the window closes."""

    def __init__(self, minutes: int, tz: ZoneInfo) -> None:
        if minutes <= 0 or 60 % minutes:
            raise ValueError("minutes must divide 60")
        self.minutes = minutes
        self.tz = tz
        self._window: tuple[int, int, int, int, int] | None = None
        self._items: list[Measurement] = []

    def _window_of(self, ts_ms: int) -> tuple[int, int, int, int, int]:
        moment = datetime.fromtimestamp(ts_ms / 1000, self.tz)
        # The fold tells apart the two local hours a DST change repeats.
        return moment.year, moment.month * 100 + moment.day, moment.hour, moment.minute // self.minutes, moment.fold

    def add(self, m: Measurement) -> Measurement | None:
        window = self._window_of(m.ts_ms)
        closed = None
        if self._window is not None and window != self._window and self._items:
            closed = average(self._items)
            self._items = []
        self._window = window
        self._items.append(m)
        return closed

    @property
    def pending(self) -> int:
        """Reads of the open window (lost on a stop; their energy is still in the counter)."""
        return len(self._items)


def average(items: list[Measurement]) -> Measurement:
    """The mean of each value over `items`, with the last item's instant and counter."""
    last = items[-1]
    powers = [m.potencia_w for m in items if m.potencia_w is not None]
    codes: dict[str, list] = {}
    for m in items:
        for code, value in m.medidas:
            codes.setdefault(code, []).append(value)
    medidas = []
    for code, values in sorted(codes.items()):
        if all(isinstance(v, tuple) for v in values) and len({len(v) for v in values}) == 1:
            mean = tuple(round(sum(col) / len(col), 4) for col in zip(*values))
        elif all(not isinstance(v, tuple) for v in values):
            mean = round(sum(values) / len(values), 4)
        else:
            mean = values[-1]  # the device changed shape mid-window: keep the latest
        medidas.append((code, mean))
    return Measurement(last.ts_ms, last.energia_wh, round(sum(powers) / len(powers), 1) if powers else None,
                       tuple(medidas), any(m.estimada for m in items), tuple(p for m in items for p in m.pulsos))
