"""Capped exponential backoff with jitter: the agent's retries of the server and of a failing device."""
from __future__ import annotations

import math
import random


class Backoff:
    """Delays that double after each failure up to `cap_s`, with "equal jitter".

    The n-th consecutive failure waits a uniform time in [d/2, d] with d = min(cap, base·2ⁿ):
    never less than half the nominal delay, so a dead RS-485 bus is not hammered, and spread
    out, so many agents restarted together by a power cut do not retry in lockstep.
    """

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0,
                 rng: random.Random | None = None) -> None:
        if not (math.isfinite(base_s) and base_s > 0):
            raise ValueError("base_s must be positive")
        if not (math.isfinite(cap_s) and cap_s >= base_s):
            raise ValueError("cap_s must be at least base_s")
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng if rng is not None else random.Random()
        self._failures = 0

    @property
    def failures(self) -> int:
        """Consecutive failures since the last reset (the agent raises an alert past a limit)."""
        return self._failures

    def nominal(self) -> float:
        """The un-jittered delay the next call would be centred on."""
        # Cap the exponent too: 2**10000 is a float overflow long before the cap matters.
        exponent = min(self._failures, 64)
        return min(self.cap_s, self.base_s * 2.0 ** exponent)

    def next_delay(self) -> float:
        """Record one more failure and return how long to sleep before the next attempt."""
        delay = self.nominal()
        self._failures += 1
        return self._rng.uniform(delay / 2, delay)

    def reset(self) -> None:
        """A success: the next failure starts again from `base_s`."""
        self._failures = 0
