"""Raw readings of a meter: pages of history in (ts, seq) order, and what came after a seq.

A page ends at a reading, not at an instant: the next page starts at the (ts, seq) of the first
reading it did not hold, so any number of readings sharing one timestamp pages through without
repeating or looping (a cursor of ts alone returned the same page forever when more than
`limite` readings shared a ts).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from servidor.domain.gate import HeavyReads
from servidor.domain.meters import Meter
from servidor.store.interface import ReadingsBackend
from shared.models import Reading

# Raw readings per page; a year of hourly totals comes from /consumo, not from here.
DEFAULT_PAGE = 1000
MAX_PAGE = 10_000
# Readings handed to one live long-poll answer.
LIVE_BATCH = 500


@dataclass(frozen=True, slots=True)
class Page:
    rows: Sequence[tuple[Reading, bool]]   # each reading with whether its counter went back
    next_ts: int | None = None             # where the next page starts, if there is one
    next_seq: int | None = None


class History:
    def __init__(self, readings: ReadingsBackend, heavy: HeavyReads) -> None:
        self._readings = readings
        self._heavy = heavy

    def page(self, meter: Meter, start_ms: int | None, end_ms: int | None, limit: int,
             from_seq: int | None = None) -> Page:
        """Readings with start <= ts < end in (ts, seq) order, at most `limit`; those at exactly
        `start_ms` with a seq below `from_seq` belong to the previous page and are skipped."""
        with self._heavy.turn():
            rows = self._fetch(meter.stream, start_ms, end_ms, limit + 1, from_seq)
        if len(rows) <= limit:
            return Page(rows)
        following = rows[limit][0]
        return Page(rows[:limit], following.ts_ms, following.seq)

    def _fetch(self, stream: str, start_ms: int | None, end_ms: int | None, wanted: int,
               from_seq: int | None) -> list[tuple[Reading, bool]]:
        asked = wanted
        while True:
            rows = self._readings.readings(stream, start_ms, end_ms, asked)
            if from_seq is None or start_ms is None:
                return rows
            kept = [row for row in rows if row[0].ts_ms != start_ms or row[0].seq >= from_seq]
            # Skipped rows used part of what was asked: ask for more until enough remain or the
            # range is exhausted (each step doubles, so a block of equal stamps costs O(n)).
            if len(kept) >= wanted or len(rows) < asked:
                return kept[:wanted]
            asked *= 2

    def after(self, meter: Meter, after_seq: int, limit: int = LIVE_BATCH) -> list[Reading]:
        return self._readings.after_seq(meter.stream, after_seq, limit)

    def after_stream(self, stream: str, after_seq: int) -> list[Reading]:
        """The live hub's fetch: readings of `stream` after `after_seq`, one answer's worth."""
        return self._readings.after_seq(stream, after_seq, LIVE_BATCH)

    def last_seq(self, meter: Meter) -> int:
        """The highest stored seq, or -1 with none (so "after it" means "the next one")."""
        seq = self._readings.max_seq(meter.stream)
        return -1 if seq is None else seq
