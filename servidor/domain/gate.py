"""A bound on reads that cost more than a moment, so that they cannot starve ingest.

Readings are ingested by the same worker threads that answer reads, and Python runs one thread at
a time: eight long `consumo` queries at once took every worker and delayed another meter's
ingest by 52 s. Heavy reads therefore take a turn from a small gate; without a free turn within
HEAVY_WAIT_S the client is told to come back (503, Retry-After) and its worker is free again.
Ingest never takes a turn.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from servidor.domain.errors import Busy

# Two heavy reads at once leave the other workers (and so ingest) most of the interpreter.
HEAVY_READS = 2
# A normal heavy read takes tens of milliseconds; waiting longer than this means a queue.
HEAVY_WAIT_S = 5.0
RETRY_AFTER_S = 2


class HeavyReads:
    def __init__(self, turns: int = HEAVY_READS, wait_s: float = HEAVY_WAIT_S) -> None:
        self._turns = threading.BoundedSemaphore(turns)
        self.wait_s = wait_s

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold one turn for the `with` block; Busy when none frees up in time."""
        if not self._turns.acquire(timeout=self.wait_s):
            raise Busy("o servidor está respondendo outras consultas longas; tente de novo em instantes",
                       retry_after_s=RETRY_AFTER_S)
        try:
            yield
        finally:
            self._turns.release()
