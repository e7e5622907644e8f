"""Axis ticks for the plotext charts, labelled the Brazilian way (plotext writes `1207.1`)."""
from __future__ import annotations

import math

from .. import format as fmt

# Five labels on the y axis leave a blank row between them even on a 10-row chart.
Y_TICKS = 5


def nice_step(span: float, count: int = Y_TICKS) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) that covers `span` in about `count` ticks."""
    if span <= 0:
        return 1.0
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def y_ticks(maximum: float, count: int = Y_TICKS) -> tuple[list[float], list[str]]:
    """Ticks from 0 to at least `maximum`, with pt-BR labels carrying only the decimals needed."""
    step = nice_step(maximum, count)
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    if step * 10 % 10 and decimals == 0:
        decimals = 1  # a 2.5 step needs its decimal
    top = step * math.ceil(maximum / step) if maximum > 0 else step
    values = [round(i * step, 6) for i in range(int(round(top / step)) + 1)]
    return values, [fmt.number(v, decimals) for v in values]


def span_ticks(lowest: float, highest: float, count: int = Y_TICKS) -> tuple[list[float], list[str]]:
    """Ticks covering [min(0, lowest), max(0, highest)]: a meter that exports (solar: negative
    watts) is drawn below the zero line instead of off the chart."""
    if lowest >= 0:
        return y_ticks(highest, count)
    step = nice_step(max(highest, 0.0) - lowest, count)
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else (1 if step * 10 % 10 else 0)
    first = math.floor(lowest / step)
    last = max(1, math.ceil(highest / step)) if highest > 0 else 0
    ticks = [round(i * step, 6) for i in range(first, last + 1)]
    return ticks, [fmt.number(v, decimals) for v in ticks]
