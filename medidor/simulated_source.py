"""A simulated meter: a consumption profile integrated into a Wh counter, on a clock that may run
faster than the real one.

The counter is what the server bills from, so it is integrated over every instant between two
readings (trapezoids), pauses and restarts included: energy drawn while the agent was not
reading shows up in the next reading, as on a real meter.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Callable

from medidor.profiles import Profile
from medidor.sources import Measurement

# Integration step: finer than any profile feature that matters for energy (a shower lasts
# minutes, a refrigerator cycle tens of minutes); 10 s is also the default reading interval.
INTEGRATION_STEP_S = 10.0
# Where a bidirectional (gridNet) counter starts: 1 MWh, so that a month of export never takes
# it below zero (the server refuses negative counters).
NET_START_WH = 1_000_000.0
# A gap of months (an agent switched off for long) is integrated in at most this many steps, so
# the first reading after it costs well under a second.
MAX_INTEGRATION_STEPS = 20_000


def real_now_ms() -> int:
    return time.time_ns() // 1_000_000


class SimClock:
    """Simulated time. Starts at `start_ms` and runs `speed` times faster than real time (None:
    as fast as readings can be made) but never ahead of the real clock: the server refuses
    readings stamped in its future, so once it catches up it simply is the real clock."""

    def __init__(self, start_ms: int, speed: float | None = 1.0, *,
                 real_ms: Callable[[], int] = real_now_ms, monotonic: Callable[[], float] = time.monotonic) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be > 0")
        self._start_ms = start_ms
        self._speed = speed
        self._real_ms = real_ms
        self._monotonic = monotonic
        self._t0 = monotonic()

    def _raw_ms(self) -> float:
        if self._speed is None:
            return math.inf
        return self._start_ms + (self._monotonic() - self._t0) * self._speed * 1000

    def now_ms(self) -> int:
        return int(min(self._raw_ms(), self._real_ms()))

    @property
    def caught_up(self) -> bool:
        return self._raw_ms() >= self._real_ms()

    def delay_until(self, target_ms: int) -> float:
        """Real seconds until simulated time reaches `target_ms` (0 if it already has)."""
        by_real = (target_ms - self._real_ms()) / 1000
        raw = self._raw_ms()
        by_speed = 0.0 if self._speed is None else (target_ms - raw) / (self._speed * 1000)
        return max(0.0, by_real, by_speed)


class SimulatedMeter:
    """A meter following `profile`, scaled by a multiplier that may change while it runs."""

    replayable = True

    def __init__(self, profile: Profile, *, start_ms: int, start_wh: float = 0.0, multiplier: float = 1.0) -> None:
        self.profile = profile
        self.description = f"simulado ({profile.name})"
        self._lock = threading.Lock()
        self._last_ms = start_ms
        self._counter_wh = start_wh if start_wh or not profile.bidirectional else NET_START_WH
        self._multiplier = multiplier
        # (instant in ms, profile watts there): the left end of the next interval.
        self._last_power: tuple[int, float] | None = None

    @property
    def multiplier(self) -> float:
        return self._multiplier

    def set_multiplier(self, value: float) -> None:
        if not value > 0 or not math.isfinite(value):
            raise ValueError("o multiplicador deve ser > 0")
        with self._lock:
            self._multiplier = value

    @property
    def counter_wh(self) -> float:
        return self._counter_wh

    def _signed_to_counter(self, watts: float) -> float:
        """The part of signed power the counter counts: import, export for a PV meter, both
        (signed) for a net meter."""
        if self.profile.bidirectional:
            return watts
        return max(-watts, 0.0) if self.profile.exports else max(watts, 0.0)

    def measure(self, ts_ms: int) -> Measurement:
        """The counter and power at `ts_ms`, integrating the profile since the previous call
        (trapezoids of at most INTEGRATION_STEP_S, so each instant is evaluated once and the
        power reported at one reading starts the next interval). An instant before the
        previous one leaves the counter as it is: it never runs back."""
        with self._lock:
            factor = self._multiplier
            span_s = (ts_ms - self._last_ms) / 1000
            power_now = self.profile.power_w(ts_ms / 1000)
            if span_s > 0:
                steps = min(MAX_INTEGRATION_STEPS, max(1, math.ceil(span_s / INTEGRATION_STEP_S)))
                step = span_s / steps
                start_s = self._last_ms / 1000
                if self._last_power is None or self._last_power[0] != self._last_ms:
                    left = self.profile.power_w(start_s)
                else:
                    left = self._last_power[1]
                total = self._signed_to_counter(left) / 2 + self._signed_to_counter(power_now) / 2
                for i in range(1, steps):
                    total += self._signed_to_counter(self.profile.power_w(start_s + i * step))
                self._counter_wh += total * factor * step / 3600
                self._last_ms = ts_ms
                self._last_power = (ts_ms, power_now)
            return Measurement(ts_ms, round(self._counter_wh, 3), round(power_now * factor, 1))

    def close(self) -> None:
        """Nothing to release: a simulated meter holds no device."""
