"""One meter's readings in memory: typed arrays sorted by (ts, seq), plus a sorted seq index.

~41 bytes a reading (seq, ts, energy, power, flag byte, and the seq index) instead of a
Reading object each. Insertion keeps the meter's rollup in step: every change of a
consecutive pair is removed from and added to the rollup. No locks: the store serialises.
"""
from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from itertools import compress
from operator import lt
from typing import Sequence

from shared.models import Reading

from .block import Columns, make_reading
from .codec import Accumulator
from .rollups import MeterRollup


class MeterColumns:
    """Readings of one meter. `seq_sorted` answers "seen this seq?" by bisection; while the
    seq order equals the ts order (the usual case) `after_seq` needs nothing more, otherwise a
    seq -> position permutation is built on demand and kept until the next insertion."""

    __slots__ = ("seq", "ts", "energia", "potencia", "flags", "medidas", "seq_sorted",
                 "seq_follows_ts", "_by_seq", "rollup")

    def __init__(self, rollup: MeterRollup) -> None:
        self.seq, self.ts = array("q"), array("q")
        self.energia, self.potencia = array("d"), array("d")
        self.flags = array("B")
        # Created on the first reading that carries measurements: most meters never do.
        self.medidas: list[bytes | None] | None = None
        self.seq_sorted = array("q")
        self.seq_follows_ts = True
        self._by_seq: array | None = None
        self.rollup = rollup

    def __len__(self) -> int:
        return len(self.seq)

    @property
    def max_seq(self) -> int | None:
        return self.seq_sorted[-1] if self.seq_sorted else None

    # -- ingest -------------------------------------------------------------------------------

    def partition(self, readings: Sequence[Reading]) -> tuple[Sequence[Reading], int]:
        """(readings to store, duplicates): a seq already stored or earlier in the batch is a
        duplicate. Fast path: a batch of rising seqs above everything stored."""
        seqs = [r.seq for r in readings]
        top = self.seq_sorted[-1] if self.seq_sorted else -1
        if seqs[0] > top and all(map(lt, seqs, seqs[1:])):
            return readings, 0
        stored = self.seq_sorted
        accepted, seen = [], set()
        for reading, seq in zip(readings, seqs):
            if seq in seen:
                continue
            if seq <= top:
                i = bisect_left(stored, seq)
                if i < len(stored) and stored[i] == seq:
                    continue
            seen.add(seq)
            accepted.append(reading)
        return accepted, len(readings) - len(accepted)

    def insert(self, cols: Columns) -> list[int]:
        """Store `cols` (no duplicates among themselves or with what is stored) and return the
        indices in `cols` of readings whose counter is below the previous reading's by ts."""
        n = len(self.ts)
        if len(cols) and (n == 0 or (cols.ts[0], cols.seq[0]) > (self.ts[-1], self.seq[-1])) \
                and (n == 0 or cols.seq[0] > self.seq_sorted[-1]) and cols.is_ascending():
            return self._extend(cols)
        resets = []
        tail = n  # pairs from here on are not yet in the rollup
        for i in range(len(cols)):
            seq, ts = cols.seq[i], cols.ts[i]
            n = len(self.ts)
            if n == 0 or ts > self.ts[-1] or (ts == self.ts[-1] and seq > self.seq[-1]):
                pos = n
            else:
                self.rollup.add_series(self.ts, self.energia, tail)
                pos = bisect_right(self.ts, ts)
                while pos > 0 and self.ts[pos - 1] == ts and self.seq[pos - 1] > seq:
                    pos -= 1
                if 0 < pos < n:
                    self.rollup.add_pair(self.ts[pos - 1], self.energia[pos - 1], self.ts[pos], self.energia[pos], -1)
            self._insert_row(pos, cols, i)
            if pos < n:
                rollup = self.rollup
                if pos > 0:
                    rollup.add_pair(self.ts[pos - 1], self.energia[pos - 1], ts, cols.energia[i])
                rollup.add_pair(ts, cols.energia[i], self.ts[pos + 1], self.energia[pos + 1])
                tail = len(self.ts)
            if pos > 0 and cols.energia[i] < self.energia[pos - 1]:
                resets.append(i)
        self.rollup.add_series(self.ts, self.energia, tail)
        return resets

    def _insert_row(self, pos: int, cols: Columns, i: int) -> None:
        seq = cols.seq[i]
        n = len(self.seq)
        blob = None if cols.medidas is None else cols.medidas[i]
        if blob is not None and self.medidas is None:
            self.medidas = [None] * n
        if pos == n:
            self.seq.append(seq)
            self.ts.append(cols.ts[i])
            self.energia.append(cols.energia[i])
            self.potencia.append(cols.potencia[i])
            self.flags.append(cols.flags[i])
            if self.medidas is not None:
                self.medidas.append(blob)
        else:
            self.seq.insert(pos, seq)
            self.ts.insert(pos, cols.ts[i])
            self.energia.insert(pos, cols.energia[i])
            self.potencia.insert(pos, cols.potencia[i])
            self.flags.insert(pos, cols.flags[i])
            if self.medidas is not None:
                self.medidas.insert(pos, blob)
        if not self.seq_sorted or seq > self.seq_sorted[-1]:
            rank = len(self.seq_sorted)
            self.seq_sorted.append(seq)
        else:
            rank = bisect_left(self.seq_sorted, seq)
            self.seq_sorted.insert(rank, seq)
        # Both orders were equal before; they stay equal only if seq lands at the same place.
        if rank != pos:
            self.seq_follows_ts = False
        self._by_seq = None

    def _extend(self, cols: Columns) -> list[int]:
        """Append a block that sorts after everything stored (the common, fast case)."""
        n = len(self.seq)
        if cols.medidas is not None and self.medidas is None:
            self.medidas = [None] * n
        if self.medidas is not None:
            self.medidas.extend(cols.medidas if cols.medidas is not None else [None] * len(cols))
        self.seq.extend(cols.seq)
        self.ts.extend(cols.ts)
        self.energia.extend(cols.energia)
        self.potencia.extend(cols.potencia)
        self.flags.extend(cols.flags)
        self.seq_sorted.extend(cols.seq)
        self._by_seq = None
        self.rollup.add_series(self.ts, self.energia, max(n, 1))
        # Counter drops among the new rows, each against the row before it (for the first new
        # row, the previous last one).
        window = self.energia[n - 1:] if n else self.energia
        offset = 0 if n else 1
        return [j + offset for j in compress(range(len(window) - 1), map(lt, window[1:], window[:-1]))]

    def load(self, cols: Columns) -> None:
        """Add a recovered block in any order, merging with what is stored (recovery path)."""
        if not len(cols):
            return
        if not len(self.seq):
            self._adopt(cols.sorted_unique())
            return
        if (cols.ts[0], cols.seq[0]) > (self.ts[-1], self.seq[-1]) and cols.seq[0] > self.seq_sorted[-1] \
                and cols.is_ascending():
            self._extend(cols)
            return
        merged = Accumulator()
        merged.add_columns(self.as_columns())
        merged.add_columns(cols)
        self._adopt(merged.columns().sorted_unique())

    def _adopt(self, cols: Columns) -> None:
        """Take `cols` (sorted, unique seqs) as the whole content and rebuild the rollup."""
        self.seq, self.ts, self.energia, self.potencia, self.flags = (
            cols.seq, cols.ts, cols.energia, cols.potencia, cols.flags)
        self.medidas = cols.medidas
        self.seq_follows_ts = all(map(lt, cols.seq, cols.seq[1:]))
        self.seq_sorted = array("q", cols.seq) if self.seq_follows_ts else array("q", sorted(cols.seq))
        self._by_seq = None
        self.rollup.clear()
        self.rollup.add_series(self.ts, self.energia, 1)

    def as_columns(self) -> Columns:
        return Columns(self.seq, self.ts, self.energia, self.potencia, self.flags, self.medidas)

    # -- queries ------------------------------------------------------------------------------

    def reading(self, i: int) -> Reading:
        return make_reading(self.seq[i], self.ts[i], self.energia[i], self.potencia[i], self.flags[i],
                            None if self.medidas is None else self.medidas[i])

    def is_reset(self, i: int) -> bool:
        return i > 0 and self.energia[i] < self.energia[i - 1]

    def index_range(self, start_ms: int | None, end_ms: int | None) -> range:
        lo = 0 if start_ms is None else bisect_left(self.ts, start_ms)
        hi = len(self.ts) if end_ms is None else bisect_left(self.ts, end_ms)
        return range(lo, max(lo, hi))

    def indices_after_seq(self, seq: int, limit: int) -> Sequence[int]:
        """Positions (in ts order) of the readings with seq above `seq`, in seq order."""
        rank = bisect_right(self.seq_sorted, seq)
        stop = min(len(self.seq_sorted), rank + max(limit, 0))
        if self.seq_follows_ts:
            return range(rank, stop)
        if self._by_seq is None:
            order = sorted(range(len(self.seq)), key=self.seq.__getitem__)
            self._by_seq = array("q", order)
        return self._by_seq[rank:stop]
