"""Which way a counter's movement between two readings went: energy in, energy out, or neither.

A stream's policy says how its counter moves. A monotonic counter (every category but a single
signed net meter) only rises: a drop is never energy. A bidirectional counter (`gridNet`) rises
with import and falls with export. Either may jump for reasons that are not energy:

- a *reset* (meter replaced, register cleared): the counter drops and goes on from the new base;
- a *glitch* (a momentary zero, or garbage): one reading off, the next one back at the level
  before it.

A jump is *abnormal* when no energy could explain it: any drop of a monotonic counter; a drop of a
bidirectional counter to about zero from at least ZERO_FROM_WH, or faster than the meter's
maximum power (its own `max_power_w`, else DEFAULT_MAX_EXPORT_W); a rise faster than the meter's
maximum power, when it has one. An abnormal jump carries no energy. The pair after it is a
glitch's return when its reading is nearer the level before the jump than the level after it,
and the reading before the jump and this one are a normal pair: that pair then carries the movement from the reading before the jump, so a momentary zero neither
spikes nor leaves a negative bar, in whatever order its readings arrive (each pair's energy
depends only on the readings at i-2, i-1 and i of the stored series).

Pure functions over the columns' arrays: no I/O, no state.
"""
from __future__ import annotations

from dataclasses import dataclass

MS_PER_HOUR = 3_600_000
# "About zero": a counter below 1 Wh is one that was cleared (or read as 0), not a level reached
# by exporting, when it falls there from at least 1 kWh.
ZERO_WH = 1.0
ZERO_FROM_WH = 1000.0
# Without a meter's own maximum, the fastest export believed: 5 MW, the largest plant the
# Brazilian net-metering rules (minigeração distribuída, Lei 14.300/2022) admit. A 10-s drop of
# 14 kWh would need more, so a counter read as a far lower number is a reset, not export.
DEFAULT_MAX_EXPORT_W = 5_000_000.0


@dataclass(frozen=True, slots=True)
class FlowPolicy:
    """How a stream's counter moves: `bidirectional` (drops are export) and the meter's highest
    possible mean power in W (None: rises are never too fast; drops use DEFAULT_MAX_EXPORT_W)."""

    bidirectional: bool = False
    max_power_w: float | None = None

    @property
    def plain(self) -> bool:
        """The default: every rise is energy, every drop a reset or a glitch."""
        return not self.bidirectional and self.max_power_w is None


MONOTONIC = FlowPolicy()


def _too_fast(wh: float, span_ms: int, max_w: float) -> bool:
    return wh * MS_PER_HOUR > max_w * span_ms


def abnormal(policy: FlowPolicy, t1: int, e1: float, t2: int, e2: float) -> bool:
    """Whether the jump e1 -> e2 over [t1, t2] cannot be energy (see the module's docstring)."""
    delta = e2 - e1
    if delta < 0.0:
        if not policy.bidirectional:
            return True
        if e2 < ZERO_WH <= ZERO_FROM_WH <= e1:
            return True
        limit = policy.max_power_w if policy.max_power_w is not None else DEFAULT_MAX_EXPORT_W
        return _too_fast(-delta, t2 - t1, limit)
    if delta > 0.0 and policy.max_power_w is not None:
        return _too_fast(delta, t2 - t1, policy.max_power_w)
    return False


def _flow(policy: FlowPolicy, t1: int, e1: float, t2: int, e2: float) -> tuple[float, float]:
    if abnormal(policy, t1, e1, t2, e2):
        return 0.0, 0.0
    delta = e2 - e1
    return (delta, 0.0) if delta >= 0.0 else (0.0, -delta)


def returns_from_glitch(policy: FlowPolicy, ts, energia, i: int) -> bool:
    """Whether reading i-1 was a glitch: it jumped abnormally from i-2, and i is back near i-2's
    level and in line with it (otherwise i-1 was a reset and i goes on from its new base)."""
    if i < 2 or energia[i] == energia[i - 1]:
        return False
    t0, e0, t1, e1, e2 = ts[i - 2], energia[i - 2], ts[i - 1], energia[i - 1], energia[i]
    return abs(e2 - e0) < abs(e2 - e1) and abnormal(policy, t0, e0, t1, e1) and not abnormal(policy, t0, e0, ts[i], e2)


def pair_flow(policy: FlowPolicy, ts, energia, i: int) -> tuple[float, float]:
    """(Wh in, Wh out) carried by the pair (i-1, i) of the ts-ordered arrays, i >= 1."""
    if returns_from_glitch(policy, ts, energia, i):
        return _flow(policy, ts[i - 2], energia[i - 2], ts[i], energia[i])
    return _flow(policy, ts[i - 1], energia[i - 1], ts[i], energia[i])


def is_reset(policy: FlowPolicy, ts, energia, i: int) -> bool:
    """Whether reading i is a counter reset: an abnormal drop from i-1, not undone by i+1 (while
    i is the last reading, a drop counts as a reset until a return shows it was a glitch)."""
    if i < 1 or energia[i] >= energia[i - 1] or not abnormal(policy, ts[i - 1], energia[i - 1], ts[i], energia[i]):
        return False
    if returns_from_glitch(policy, ts, energia, i):  # back down from a glitch that went up
        return False
    return i + 1 >= len(ts) or not returns_from_glitch(policy, ts, energia, i + 1)
