"""A block of readings held as parallel typed arrays, the unit the journal, segments and memory share.

One `Reading` object costs ~200 bytes; the same reading as array items costs ~33 (seq and ts
'q', energy and power 'd', one flag byte), which is how a million readings fit in ~50 MB.
"""
from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from operator import le, lt
from typing import Sequence

from shared.models import Reading

from .medidas import decode_medidas, encode_medidas

# Bits of the per-reading flag byte.
ESTIMADA = 1
HAS_MEDIDAS = 2

NAN = math.nan


@dataclass(frozen=True, slots=True)
class Columns:
    """Readings of one meter as columns. `potencia` is NaN where the reading had none (a
    valid reading's power is finite, so NaN is unambiguous); `medidas` holds each reading's
    encoded measurements blob or None, and is itself None when no reading has any."""

    seq: array
    ts: array
    energia: array
    potencia: array
    flags: array
    medidas: list[bytes | None] | None = None

    def __len__(self) -> int:
        return len(self.seq)

    @classmethod
    def empty(cls) -> "Columns":
        return cls(array("q"), array("q"), array("d"), array("d"), array("B"), None)

    @classmethod
    def from_readings(cls, readings: Sequence[Reading]) -> "Columns":
        """Columns of `readings`, in the given order."""
        if isinstance(readings, ColumnBatch):
            return readings.columns
        if len(readings) == 1:  # a meter's reading every 10 s: the commonest append by far
            r = readings[0]
            return cls(array("q", (r.seq,)), array("q", (r.ts_ms,)), array("d", (r.energia_wh,)),
                       array("d", (NAN if r.potencia_w is None else r.potencia_w,)),
                       array("B", ((ESTIMADA if r.estimada else 0) | (HAS_MEDIDAS if r.medidas else 0),)),
                       [encode_medidas(r.medidas)] if r.medidas else None)
        flags = array("B", [(ESTIMADA if r.estimada else 0) | (HAS_MEDIDAS if r.medidas else 0) for r in readings])
        medidas = None
        if any(r.medidas for r in readings):
            medidas = [encode_medidas(r.medidas) if r.medidas else None for r in readings]
        return cls(
            array("q", [r.seq for r in readings]),
            array("q", [r.ts_ms for r in readings]),
            array("d", [r.energia_wh for r in readings]),
            array("d", [NAN if r.potencia_w is None else r.potencia_w for r in readings]),
            flags,
            medidas,
        )

    def reading(self, i: int) -> Reading:
        return make_reading(self.seq[i], self.ts[i], self.energia[i], self.potencia[i], self.flags[i],
                            None if self.medidas is None else self.medidas[i])

    def is_ascending(self) -> bool:
        """True when seq strictly rises and ts never falls: then the block is already in
        (ts, seq) order and its seqs are unique, so it can be appended without sorting."""
        seq, ts = self.seq, self.ts
        return all(map(lt, seq, seq[1:])) and all(map(le, ts, ts[1:]))

    def slice(self, start: int, stop: int) -> "Columns":
        """Rows [start, stop)."""
        medidas = None
        if self.medidas is not None:
            medidas = self.medidas[start:stop]
            if not any(medidas):
                medidas = None
        return Columns(self.seq[start:stop], self.ts[start:stop], self.energia[start:stop],
                       self.potencia[start:stop], self.flags[start:stop], medidas)

    def take(self, indices: Sequence[int]) -> "Columns":
        """The rows at `indices`, in that order."""
        s, t, e, p, f = self.seq, self.ts, self.energia, self.potencia, self.flags
        medidas = None
        if self.medidas is not None:
            medidas = [self.medidas[i] for i in indices]
            if not any(medidas):
                medidas = None
        return Columns(
            array("q", [s[i] for i in indices]),
            array("q", [t[i] for i in indices]),
            array("d", [e[i] for i in indices]),
            array("d", [p[i] for i in indices]),
            array("B", [f[i] for i in indices]),
            medidas,
        )

    def sorted_unique(self) -> "Columns":
        """The rows in (ts, seq) order with later repeats of a seq dropped (the first kept)."""
        if self.is_ascending():
            return self
        n = len(self.seq)
        seen: set[int] = set()
        keep = []
        for i, s in enumerate(self.seq):
            if s not in seen:
                seen.add(s)
                keep.append(i)
        # Two stable sorts with C-level keys: by seq, then by ts, give (ts, seq) order far
        # faster than one sort on tuple keys.
        keep.sort(key=self.seq.__getitem__)
        keep.sort(key=self.ts.__getitem__)
        if len(keep) == n and keep == list(range(n)):
            return self
        return self.take(keep)


class ColumnBatch(Sequence[Reading]):
    """Readings already held as columns (a bulk import builds them without a Reading each),
    passed to `ReadingStore.append` like any sequence of readings: the store takes the columns
    as they are, and builds a Reading only for the few it reports (resets)."""

    __slots__ = ("columns",)

    def __init__(self, columns: Columns) -> None:
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self.columns))
            if step != 1:
                raise ValueError("passo diferente de 1")
            return ColumnBatch(self.columns.slice(start, stop))
        return self.columns.reading(index)


def make_reading(seq: int, ts: int, energia: float, potencia: float, flags: int, blob: bytes | None) -> Reading:
    """The `Reading` stored as these column values (NaN power is None)."""
    return Reading(seq, ts, energia, None if potencia != potencia else potencia,
                   decode_medidas(blob) if blob else (), bool(flags & ESTIMADA))
