"""Capped exponential backoff with jitter, for the server and the device alike."""
from __future__ import annotations

import random


class Backoff:
    """Delays base, 2·base, 4·base … capped at `cap_s`, each drawn from the upper half of its
    step ("equal jitter"): many agents cut off by one outage do not come back in lockstep, and
    no delay collapses to zero, so a refused connection never turns into a busy loop."""

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None) -> None:
        if not 0 < base_s <= cap_s:
            raise ValueError("need 0 < base_s ≤ cap_s")
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng or random.Random()
        self._attempt = 0

    @property
    def failures(self) -> int:
        """Delays handed out since the last reset: consecutive failures."""
        return self._attempt

    def next_delay(self) -> float:
        step = min(self.cap_s, self.base_s * 2 ** min(self._attempt, 32))
        self._attempt += 1
        return step / 2 + self._rng.uniform(0, step / 2)

    def reset(self) -> None:
        self._attempt = 0
