"""Rollup changes of one append, computed without the database: pure functions.

The rollups are those of the embedded store (`servidor.store.readings.rollups`): consumption is
the rise of the counter between consecutive readings in (ts, seq) order, spread linearly into
15-minute UTC buckets, a pair longer than LONG_SPAN_MS kept whole as a span. An append that
lands after the stream's last reading adds the pairs it makes; one that lands among stored
readings (a backfill) removes the pairs between its stored neighbours and adds the new ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from servidor.store.readings.flows import FlowPolicy, is_reset, pair_flow
from servidor.store.readings.rollups import BUCKET_MS, LONG_SPAN_MS, MAX_COVERED_GAP_MS

# (ts, seq, energia): what the rollups need of a reading.
Point = tuple[int, int, float]


@dataclass
class RollupDelta:
    """Amounts to add to the stored rollups: bucket -> [wh, covered ms], (t1, t2) -> [wh, pairs]."""

    buckets: dict[int, list] = field(default_factory=dict)
    spans: dict[tuple[int, int], list] = field(default_factory=dict)

    def _bucket(self, bucket: int, wh: float, covered: int) -> None:
        entry = self.buckets.get(bucket)
        if entry is None:
            entry = self.buckets[bucket] = [0.0, 0]
        entry[0] += wh
        entry[1] += covered

    def add_pair(self, t1: int, e1: float, t2: int, e2: float, sign: int = 1) -> None:
        """The contribution of consecutive readings t1 <= t2, added (sign 1) or removed (-1)."""
        self.add_delta(t1, t2, max(e2 - e1, 0.0), sign)

    def add_delta(self, t1: int, t2: int, wh: float, sign: int = 1) -> None:
        """`wh` (>= 0) spread over [t1, t2], and the time the pair covers, added or removed."""
        delta = wh * sign
        span = t2 - t1
        if span == 0:
            self._bucket(t1 // BUCKET_MS, delta, 0)
            return
        if span > LONG_SPAN_MS:
            entry = self.spans.setdefault((t1, t2), [0.0, 0])
            entry[0] += delta
            entry[1] += sign
            return
        covered = sign if span <= MAX_COVERED_GAP_MS else 0
        first, last = t1 // BUCKET_MS, (t2 - 1) // BUCKET_MS
        for bucket in range(first, last + 1):
            lo = bucket * BUCKET_MS
            part = min(t2, lo + BUCKET_MS) - max(t1, lo)
            self._bucket(bucket, delta * part / span, covered * part)

    def add_chain(self, points: Sequence[Point], sign: int = 1) -> None:
        """Every consecutive pair of `points`; pairs within one bucket (the usual 10-s readings)
        are summed locally and reach the bucket once."""
        current, wh, covered = -1, 0.0, 0
        for (t1, _, e1), (t2, _, e2) in zip(points, points[1:]):
            bucket = t1 // BUCKET_MS
            if t2 <= (bucket + 1) * BUCKET_MS:
                if bucket != current:
                    if current >= 0:
                        self._bucket(current, wh * sign, covered * sign)
                    current, wh, covered = bucket, 0.0, 0
                if e2 > e1:
                    wh += e2 - e1
                covered += t2 - t1
            else:
                self.add_pair(t1, e1, t2, e2, sign)
        if current >= 0:
            self._bucket(current, wh * sign, covered * sign)


@dataclass
class FlowDelta:
    """The changes to both rollups: energy in (`consumed`) and what a bidirectional counter gave
    back (`exported`), pair by pair as flows.py counts them."""

    policy: FlowPolicy
    consumed: RollupDelta = field(default_factory=RollupDelta)
    exported: RollupDelta = field(default_factory=RollupDelta)

    def add_pairs(self, points: Sequence[Point], lo: int, sign: int = 1) -> None:
        """The pairs of `points` ending at lo <= k: each looks two readings back (a glitch's
        return), so `points` must hold the two readings before lo."""
        lo = max(lo, 1)
        if lo >= len(points):
            return
        energy = [p[2] for p in points]
        if self.policy.plain and all(a <= b for a, b in zip(energy[max(lo - 2, 0):], energy[max(lo - 1, 1):])):
            self.consumed.add_chain(points[lo - 1:], sign)  # no drop: every pair is its rise
            return
        ts = [p[0] for p in points]
        for k in range(lo, len(points)):
            wh_in, wh_out = pair_flow(self.policy, ts, energy, k)
            self.consumed.add_delta(ts[k - 1], ts[k], wh_in, sign)
            if wh_out:
                self.exported.add_delta(ts[k - 1], ts[k], wh_out, sign)

    def resets(self, points: Sequence[Point], candidates: range) -> list[int]:
        """Seqs of the readings at `candidates` that are counter resets (flows.is_reset), each
        confirmed by a reading after it."""
        ts, energy = [p[0] for p in points], [p[2] for p in points]
        return [points[k][1] for k in candidates
                if 1 <= k < len(points) - 1 and energy[k] < energy[k - 1] and is_reset(self.policy, ts, energy, k)]


def merge(stored: Sequence[Point], new: Sequence[Point]) -> list[Point]:
    """Both in (ts, seq) order, no seq in both: one list in (ts, seq) order."""
    return sorted([*stored, *new], key=lambda p: (p[0], p[1]))
