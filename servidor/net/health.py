"""What the network layer reports to /saude: conditions seen recently that refuse clients.

A condition (descriptors exhausted, connection table full) is reported for `hold` seconds after
it was last seen, so a health probe made every few seconds sees one that comes and goes, and
the report clears by itself once the condition has passed: no restart, no reset.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

# Long enough for a probe every few seconds to catch a condition that flaps, short enough that
# recovery shows within a probe or two.
HEALTH_HOLD_S = 10.0


class Health:
    def __init__(self, hold: float = HEALTH_HOLD_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._hold = hold
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def note(self, reason: str) -> None:
        """`reason` (pt-BR, for the report) is happening now."""
        with self._lock:
            self._seen[reason] = self._clock()

    def report(self) -> tuple[bool, str | None]:
        """(True, None) when nothing was seen within the hold, else (False, the reasons)."""
        now = self._clock()
        with self._lock:
            for reason in [r for r, at in self._seen.items() if now - at >= self._hold]:
                del self._seen[reason]
            reasons = sorted(self._seen)
        return (not reasons, "; ".join(reasons) or None)
