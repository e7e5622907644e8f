"""Retention: readings older than a cut replaced by readings on 15-minute edges, every total kept.

Consumption is the counter's rise between consecutive readings, spread linearly over the pair's
time (rollups.py). Sampling that piecewise-linear counter on the 15-minute edges therefore gives
readings whose pairs each fall inside one bucket with exactly the bucket's energy and covered
time, so every bucket (and every hour, day, month and invoice, which are sums of buckets) is
unchanged. Pairs the linear picture does not describe are kept as they are, both readings:
a counter that went back (a reset: no consumption), a gap longer than the covered limit (its
energy counts, its time does not), a pair longer than the long-span limit, two readings at the
same instant. Readings after the cut are never touched; the one pair that crosses the cut is
sampled up to the cut only, so the first kept reading after it still pairs correctly.

The new readings reuse seqs of the readings they replace (never a new number, which an agent
might send later); the stream is rewritten only when that makes it smaller.

On disk (`apply`, with the server stopped) every live stream goes into one new segment, each
preceded by a tombstone that voids the stream's readings in every earlier file; the earlier
files are then removed. A crash before the segment's rename changes nothing; after it, the
tombstones already make the older files' readings void.
"""
from __future__ import annotations

import math
import os
from array import array
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from shared.durable import TEMP_SUFFIX

from .readings import ReadingStore
from .readings.block import Columns
from .readings.codec import HEADER_SIZE, SEGMENT_MAGIC, SEGMENT_VERSION, file_header
from .readings.files import DirectoryLock, fsync_dir, scan, segment_path
from .readings.rollups import BUCKET_MS, MAX_COVERED_GAP_MS
from .readings.segment_codec import SegmentMeter, encode_segment

NAN = math.nan


def cut_for(months: int, today: date) -> int:
    """Epoch ms of UTC midnight `months` calendar months before `today` (day clamped to 28)."""
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return int(datetime(year, month + 1, min(today.day, 28), tzinfo=timezone.utc).timestamp()) * 1000


def _linear(t1: int, e1: float, t2: int, e2: float) -> bool:
    """A pair the rollups spread linearly over its covered time: sampling it changes nothing.
    (MAX_COVERED_GAP_MS is far below LONG_SPAN_MS: such a pair is never a long span.)"""
    return t1 < t2 and e2 >= e1 and t2 - t1 <= MAX_COVERED_GAP_MS


def downsample(cols: Columns, cut_ms: int) -> Columns | None:
    """`cols` (one stream, (ts, seq) order) with its readings before `cut_ms` (a bucket edge)
    sampled on bucket edges; None when that would not make the stream smaller."""
    if cut_ms % BUCKET_MS:
        raise ValueError("o corte deve cair numa borda de 15 minutos")
    ts, energy = cols.ts, cols.energia
    old = 0
    while old < len(ts) and ts[old] < cut_ms:
        old += 1
    if old < 3:
        return None
    # Points kept or made, in time order: (ts, counter, index of the original reading or -1).
    points: list[tuple[int, float, int]] = [(ts[0], energy[0], 0)]
    last = min(old, len(ts) - 1)  # pairs (i, i+1) starting before the cut
    for i in range(last):
        t1, e1, t2, e2 = ts[i], energy[i], ts[i + 1], energy[i + 1]
        # The pair after a drop is kept as it is: whether it is a glitch's return depends on the
        # reading before the drop (flows.py), which sampling it would cut off.
        if _linear(t1, e1, t2, e2) and not (i > 0 and e1 < energy[i - 1]):
            edge = (t1 // BUCKET_MS + 1) * BUCKET_MS
            stop = min(t2, cut_ms + 1)  # up to the cut (included), never past the next reading
            while edge < stop:
                points.append((edge, e1 + (e2 - e1) * (edge - t1) / (t2 - t1), -1))
                edge += BUCKET_MS
            if i + 1 < old and t2 % BUCKET_MS == 0:
                points.append((t2, e2, -1))  # a reading on an edge: the sample is its own value
        else:
            if points[-1][0] == t1 and points[-1][2] < 0:
                points[-1] = (t1, e1, i)  # the sample on this edge is this reading: keep it as it is
            elif points[-1][2] != i:
                points.append((t1, e1, i))
            if i + 1 < old:
                points.append((t2, e2, i + 1))
    if old == len(ts) and points[-1][2] != old - 1 and points[-1][0] != ts[old - 1]:
        points.append((ts[old - 1], energy[old - 1], old - 1))  # the last reading, if nothing follows it
    made = [p for p in points if p[2] < 0]
    kept = {p[2] for p in points if p[2] >= 0}
    free = sorted(cols.seq[i] for i in range(old) if i not in kept)
    if len(points) >= old or len(made) > len(free):
        return None
    seq_of = iter(free)
    seq, new_ts, new_e, power, flags = array("q"), array("q"), array("d"), array("d"), array("B")
    medidas: list[bytes | None] | None = [] if cols.medidas is not None else None
    for t, e, index in points:
        if index >= 0:
            seq.append(cols.seq[index])
            power.append(cols.potencia[index])
            flags.append(cols.flags[index])
        else:
            seq.append(next(seq_of))
            power.append(NAN)
            flags.append(0)
        new_ts.append(t)
        new_e.append(e)
        if medidas is not None:
            medidas.append(cols.medidas[index] if index >= 0 else None)
    rest = cols.slice(old, len(cols))
    seq += rest.seq
    new_ts += rest.ts
    new_e += rest.energia
    power += rest.potencia
    flags += rest.flags
    if medidas is not None:
        medidas += cols.medidas[old:]
    return Columns(seq, new_ts, new_e, power, flags, medidas).sorted_unique()


# -- on disk ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RetentionReport:
    streams: int  # streams rewritten
    before: int  # their readings before
    after: int  # and after


def apply(directory: Path, cut_ms: int, durable: bool = True) -> RetentionReport:
    """Downsample every stream of the store in `directory` before `cut_ms`, with the server
    stopped (StoreLocked otherwise). Nothing is written when no stream gets smaller."""
    with ReadingStore.open(directory, durable=durable) as store:
        streams, _ = store.snapshot()
    files = _listing(directory)  # after close: compaction moves readings between files, never changes them
    rewritten = {}
    before = 0
    for key, cols in streams.items():
        smaller = downsample(cols, cut_ms)
        if smaller is not None:
            rewritten[key] = smaller
            before += len(cols)
    if not rewritten:
        return RetentionReport(0, 0, 0)
    lock = DirectoryLock(directory, durable)
    try:
        if _listing(directory) != files:
            return RetentionReport(0, 0, 0)  # the store changed meanwhile: next time
        journals, segments = scan(directory)
        number = max([*journals, *segments]) + 1
        target = segment_path(directory, number)
        temp = target.with_name(target.name + TEMP_SUFFIX)  # removed at open if left by a crash
        with temp.open("wb") as out:
            out.write(file_header(SEGMENT_MAGIC, SEGMENT_VERSION))
            for key in sorted(streams):  # every live stream, each voiding its older readings
                out.write(encode_segment([SegmentMeter(key, True, rewritten.get(key, streams[key]))])[HEADER_SIZE:])
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(temp, target)
        if durable:
            fsync_dir(directory)
        for path in [*journals.values(), *segments.values()]:  # all void now: their space comes back
            path.unlink()
        if durable:
            fsync_dir(directory)
    finally:
        lock.release()
    return RetentionReport(len(rewritten), before, sum(len(c) for c in rewritten.values()))


def _listing(directory: Path) -> dict[str, int]:
    journals, segments = scan(directory)
    return {p.name: p.stat().st_size for p in [*journals.values(), *segments.values()]}

