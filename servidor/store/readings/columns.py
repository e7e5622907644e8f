"""One meter's readings in memory: typed arrays sorted by (ts, seq), plus a sorted seq index.

~41 bytes a reading (seq, ts, energy, power, flag byte, and the seq index) instead of a
Reading object each. Insertion keeps the meter's rollup in step: every change of a
consecutive pair is removed from and added to the rollup. No locks: the store serialises.
"""
from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from itertools import compress
from operator import le, lt
from typing import Sequence

from shared.models import Reading

from .block import ESTIMADA, NAN, ColumnBatch, Columns, make_reading
from .codec import Accumulator
from .flows import MONOTONIC, FlowPolicy, is_reset, pair_flow
from .rollups import MeterRollup


class MeterColumns:
    """Readings of one meter. `seq_sorted` answers "seen this seq?" by bisection. While the
    seq order equals the ts order (the usual case) `after_seq` needs nothing more; otherwise a
    seq -> position permutation is built on demand, extended by appends at the end and dropped
    by any insertion in the middle (which shifts positions)."""

    __slots__ = ("seq", "ts", "energia", "potencia", "flags", "medidas", "seq_sorted",
                 "seq_follows_ts", "_by_seq", "rollup", "export", "policy")

    def __init__(self, rollup: MeterRollup, policy: FlowPolicy = MONOTONIC) -> None:
        self.seq, self.ts = array("q"), array("q")
        self.energia, self.potencia = array("d"), array("d")
        self.flags = array("B")
        # Created on the first reading that carries measurements: most meters never do.
        self.medidas: list[bytes | None] | None = None
        self.seq_sorted = array("q")
        self.seq_follows_ts = True
        self._by_seq: array | None = None
        self.rollup = rollup
        # What a bidirectional counter gave back (its drops that were export): empty otherwise.
        self.export = MeterRollup(rollup.tz)
        self.policy = policy

    def __len__(self) -> int:
        return len(self.seq)

    @property
    def max_seq(self) -> int | None:
        return self.seq_sorted[-1] if self.seq_sorted else None

    # -- ingest -------------------------------------------------------------------------------

    def partition(self, readings: Sequence[Reading]) -> tuple[Sequence[Reading], int]:
        """(readings to store, duplicates): a seq already stored or earlier in the batch is a
        duplicate. Fast path: a batch of rising seqs above everything stored."""
        top = self.seq_sorted[-1] if self.seq_sorted else -1
        if len(readings) == 1 and readings[0].seq > top:  # one new reading: the commonest call
            return readings, 0
        batch = readings if isinstance(readings, ColumnBatch) else None
        seqs = batch.columns.seq if batch is not None else [r.seq for r in readings]
        if seqs[0] > top and all(map(lt, seqs, seqs[1:])):
            return readings, 0
        stored = self.seq_sorted
        if batch is not None and all(map(lt, seqs, seqs[1:])):  # a bulk import sent again: one compare
            at = bisect_left(stored, seqs[0])
            if stored[at:at + len(seqs)] == seqs:
                return ColumnBatch(Columns.empty()), len(seqs)
        kept, seen = [], set()
        for i, seq in enumerate(seqs):
            if seq in seen:
                continue
            if seq <= top:
                at = bisect_left(stored, seq)
                if at < len(stored) and stored[at] == seq:
                    continue
            seen.add(seq)
            kept.append(i)
        accepted = ColumnBatch(batch.columns.take(kept)) if batch is not None else [readings[i] for i in kept]
        return accepted, len(readings) - len(kept)

    def appends_plainly(self, reading: Reading) -> bool:
        """Whether `reading` (a seq not stored) goes in by `append_plain`: its seq above every
        stored one and its ts not below the last (so it goes last in (ts, seq) order), without
        measurements, on a plain counter, and with no drop among it and the two readings before
        it, so no reset or glitch can be involved and its pair is the only flow that changes.
        The usual reading of a meter."""
        if reading.medidas or not self.policy.plain:
            return False
        energia = self.energia
        if not energia:
            return True
        last = energia[-1]
        return (reading.seq > self.seq_sorted[-1] and reading.ts_ms >= self.ts[-1] and reading.energia_wh >= last
                and (len(energia) < 2 or last >= energia[-2]))

    def append_plain(self, reading: Reading) -> None:
        """Store one reading that `appends_plainly`: what `insert` does for it, without its
        general machinery (sorting, runs, windows over the arrays)."""
        n = len(self.ts)
        seq, ts, energia = reading.seq, reading.ts_ms, reading.energia_wh
        if n:
            self.rollup.add_pair(self.ts[-1], self.energia[-1], ts, energia)
        self.seq.append(seq)
        self.ts.append(ts)
        self.energia.append(energia)
        self.potencia.append(NAN if reading.potencia_w is None else reading.potencia_w)
        self.flags.append(ESTIMADA if reading.estimada else 0)
        if self.medidas is not None:
            self.medidas.append(None)
        self.seq_sorted.append(seq)  # above every stored seq: the index stays sorted, and in ts order
        if self._by_seq is not None:
            self._by_seq.append(n)

    def insert(self, cols: Columns) -> list[Reading]:
        """Store `cols` (no seq repeated among them or already stored) and return the counter
        resets they show (flows.is_reset): readings of `cols`, or the last stored reading, whose
        drop the reading after them confirms.

        The batch is put in (ts, seq) order and cut into runs that each fall between the same
        two stored neighbours; a run goes in with one slice assignment per array. An in-order
        batch is one run at the end (an append); a backfill of a gap is one run in the middle,
        one memmove whatever its length."""
        order = None
        if not cols.is_ascending():
            order = sorted(range(len(cols)), key=cols.seq.__getitem__)
            order.sort(key=cols.ts.__getitem__)  # stable: (ts, seq) order
            cols = cols.take(order)
        ts, seq, k = cols.ts, cols.seq, len(cols)
        resets: list[Reading] = []
        i = 0
        while i < k:
            n = len(self.ts)
            pos = self._position(ts[i], seq[i])
            j = k
            if pos < n:
                bound = (self.ts[pos], self.seq[pos])
                j = i + 1
                while j < k and (ts[j], seq[j]) < bound:
                    j += 1
            resets += self._insert_run(pos, cols, i, j)
            i = j
        resets.sort(key=lambda r: (r.ts_ms, r.seq))
        return resets

    def index_after(self, key: tuple[int, int] | None) -> int:
        """The position of the first reading above (ts, seq) `key`; 0 for None."""
        return 0 if key is None else self._position(*key)

    def _position(self, ts: int, seq: int) -> int:
        """Where a reading goes in (ts, seq) order."""
        n = len(self.ts)
        if n == 0 or ts > self.ts[-1] or (ts == self.ts[-1] and seq > self.seq[-1]):
            return n
        pos = bisect_right(self.ts, ts)
        while pos > 0 and self.ts[pos - 1] == ts and self.seq[pos - 1] > seq:
            pos -= 1
        return pos

    def _insert_run(self, pos: int, cols: Columns, i: int, j: int) -> list[Reading]:
        """Insert rows [i, j) of `cols` (in (ts, seq) order) at `pos`; return the resets the
        run confirms (its rows followed by a reading, and the last stored one before it)."""
        n, count = len(self.ts), j - i
        whole = i == 0 and j == len(cols)
        # The pair the run splits, and the one after it (whose flow looks one reading back), are
        # replaced by the run's pairs.
        if pos < n:
            self._add_pairs(pos, pos + 2, -1)
        if whole:
            self.seq[pos:pos], self.ts[pos:pos], self.energia[pos:pos] = cols.seq, cols.ts, cols.energia
            self.potencia[pos:pos], self.flags[pos:pos] = cols.potencia, cols.flags
        else:
            self.seq[pos:pos], self.ts[pos:pos] = cols.seq[i:j], cols.ts[i:j]
            self.energia[pos:pos], self.potencia[pos:pos] = cols.energia[i:j], cols.potencia[i:j]
            self.flags[pos:pos] = cols.flags[i:j]
        if cols.medidas is not None and self.medidas is None:
            self.medidas = [None] * n
        if self.medidas is not None:
            self.medidas[pos:pos] = cols.medidas[i:j] if cols.medidas is not None else [None] * count
        self._index_seqs(pos, n, cols.seq if whole else cols.seq[i:j])
        self._add_pairs(pos, pos + count + 2)
        # Drops among the new rows and the last stored one, each against the row before it.
        first = pos - 1 if pos == n else pos
        window = self.energia[max(first - 1, 0):pos + count]
        drops = compress(range(max(first, 1), pos + count), map(lt, window[1:], window[:-1]))
        return [self.reading(k) for k in drops if k + 1 < len(self.ts) and self.is_reset(k)]

    def _add_pairs(self, lo: int, hi: int, sign: int = 1) -> None:
        """Add (sign=1) or remove (sign=-1) the flows of the pairs ending at lo <= i < hi."""
        lo, hi = max(lo, 1), min(hi, len(self.ts))
        if lo >= hi:
            return
        ts, energia = self.ts, self.energia
        if sign > 0 and self.policy.plain and all(map(le, energia[max(lo - 2, 0):hi - 1], energia[max(lo - 1, 1):hi])):
            self.rollup.add_series(ts, energia, lo, hi)  # no drop: every pair is its rise
            return
        for k in range(lo, hi):
            wh_in, wh_out = pair_flow(self.policy, ts, energia, k)
            self.rollup.add_delta(ts[k - 1], ts[k], wh_in, sign)
            if wh_out:
                self.export.add_delta(ts[k - 1], ts[k], wh_out, sign)

    def set_policy(self, policy: FlowPolicy) -> None:
        """Count this stream's pairs by `policy` from now on (rebuilds both rollups)."""
        if policy != self.policy:
            self.policy = policy
            self._rebuild()

    def set_timezone(self, tz) -> None:
        self.rollup.set_timezone(tz)
        self.export.set_timezone(tz)

    def _rebuild(self) -> None:
        self.rollup.clear()
        self.export.clear()
        self._add_pairs(1, len(self.ts))

    def _index_seqs(self, pos: int, n: int, seqs: array) -> None:
        """Add a run's seqs (inserted at ts position `pos`) to the sorted seq index."""
        index = self.seq_sorted
        rank = bisect_left(index, seqs[0])
        if all(map(lt, seqs, seqs[1:])) and (rank == len(index) or seqs[-1] < index[rank]):
            index[rank:rank] = seqs  # the run's seqs are contiguous in seq order too
            contiguous = True
        else:
            for seq in seqs:
                insort(index, seq)
            contiguous = False
        # The orders were equal before; they stay equal only if the run lands at the same place.
        if not contiguous or rank != pos:
            self.seq_follows_ts = False
        if self._by_seq is not None and contiguous and pos == n and rank == n:
            self._by_seq.extend(range(n, n + len(seqs)))  # appended at the end of both orders
        else:
            self._by_seq = None

    def load(self, cols: Columns) -> None:
        """Add a recovered block in any order, merging with what is stored (recovery path)."""
        if not len(cols):
            return
        if not len(self.seq):
            self._adopt(cols.sorted_unique())
            return
        if (cols.ts[0], cols.seq[0]) > (self.ts[-1], self.seq[-1]) and cols.seq[0] > self.seq_sorted[-1] \
                and cols.is_ascending():
            self._insert_run(len(self.seq), cols, 0, len(cols))
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
        self._rebuild()

    def copy_columns(self) -> Columns:
        """A copy that later inserts leave alone (array slices: memory copies, no walk)."""
        return Columns(self.seq[:], self.ts[:], self.energia[:], self.potencia[:], self.flags[:],
                       None if self.medidas is None else self.medidas[:])

    def as_columns(self) -> Columns:
        return Columns(self.seq, self.ts, self.energia, self.potencia, self.flags, self.medidas)

    # -- queries ------------------------------------------------------------------------------

    def reading(self, i: int) -> Reading:
        return make_reading(self.seq[i], self.ts[i], self.energia[i], self.potencia[i], self.flags[i],
                            None if self.medidas is None else self.medidas[i])

    def is_reset(self, i: int) -> bool:
        return i > 0 and self.energia[i] < self.energia[i - 1] and is_reset(self.policy, self.ts, self.energia, i)

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
