"""Turning power samples into an energy counter, for devices without a CEA register."""
from __future__ import annotations

import math

# Longest interval between two samples that is still integrated. Beyond it the agent or the
# device was down and the power in between is unknown; a straight line across an outage
# invents energy (docs/protocolos.md §1), so the interval is skipped and counted in `lacunas_ms`.
# Five minutes is 30 agent periods of 10 s: several failed reads in a row, not jitter.
MAX_GAP_MS = 5 * 60 * 1000


class EnergyIntegrator:
    """Trapezoidal integration of power (W) over time (epoch ms) into Wh counters.

    Import and export are kept apart: positive power feeds `energia_wh` (what the agent reports
    as the counter), negative power (a solar site exporting) feeds `exportada_wh`. Clamping
    negatives to zero would hide export; netting them would make the counter go backwards, which
    the server would read as a meter reset (docs/protocolos.md §1). An interval whose ends have opposite
    signs is split where the straight line crosses zero, so each side gets its exact share.
    """

    def __init__(self, start_wh: float = 0.0, start_exportada_wh: float = 0.0) -> None:
        if not (math.isfinite(start_wh) and start_wh >= 0):
            raise ValueError("start_wh must be finite and ≥ 0")
        if not (math.isfinite(start_exportada_wh) and start_exportada_wh >= 0):
            raise ValueError("start_exportada_wh must be finite and ≥ 0")
        self._import_wh = float(start_wh)
        self._export_wh = float(start_exportada_wh)
        self._last: tuple[int, float] | None = None
        self._gap_ms = 0

    @property
    def energia_wh(self) -> float:
        """Imported energy so far (never decreases)."""
        return self._import_wh

    @property
    def exportada_wh(self) -> float:
        """Exported energy so far, as a positive number (never decreases)."""
        return self._export_wh

    @property
    def lacunas_ms(self) -> int:
        """Total time skipped because samples were more than MAX_GAP_MS apart."""
        return self._gap_ms

    def add(self, ts_ms: int, potencia_w: float) -> float:
        """Add one sample and return the import counter in Wh.

        A sample not after the previous one (a clock step back, a duplicate) only becomes the
        new starting point; it adds no energy.
        """
        if not math.isfinite(potencia_w):
            raise ValueError("potencia_w must be finite")
        last = self._last
        self._last = (ts_ms, float(potencia_w))
        if last is None or ts_ms <= last[0]:
            return self._import_wh
        dt_ms = ts_ms - last[0]
        if dt_ms > MAX_GAP_MS:
            self._gap_ms += dt_ms
            return self._import_wh
        positive, negative = trapezoid_split(last[1], float(potencia_w), dt_ms / 3_600_000)
        self._import_wh += positive
        self._export_wh += negative
        return self._import_wh


def trapezoid_split(p0: float, p1: float, hours: float) -> tuple[float, float]:
    """Area under the line from p0 to p1 over `hours`: (energy above zero, energy below zero ≥ 0)."""
    if p0 >= 0 and p1 >= 0:
        return (p0 + p1) / 2 * hours, 0.0
    if p0 <= 0 and p1 <= 0:
        return 0.0, -(p0 + p1) / 2 * hours
    # Opposite signs: the line crosses zero at fraction f = p0 / (p0 − p1) of the interval.
    f = p0 / (p0 - p1)
    first = p0 / 2 * f * hours
    second = p1 / 2 * (1 - f) * hours
    if p0 > 0:
        return first, -second
    return second, -first
