"""Per-blink points of pulse meters, stored beside the readings: `db.pulsos/<stream>/`.

Each stream has an fsynced journal (`diario.dat`, the blinks of recent requests as they came)
and an append-only file of sealed, compressed blocks (`blocos.dat`). When BLOCK_POINTS wait in
the journal they are sealed into one block (appended and fsynced), then the journal is emptied.
A crash between the two leaves the same points in both: the block's watermark tells which
journal frames it already holds. Only block heads (counts, stamps, hourly summaries) stay in
memory; the points of a block are read back when a query needs them.

Exactly once: every append names the reading seq each blink came with; blinks of seqs at or
below the stream's watermark are already stored (a retried request) and are skipped. Blinks
must also move forward in time: a stamp at or before the last stored one is dropped (counted in
`stats`), so queries can rely on ascending stamps.
"""
from __future__ import annotations

import logging
import os
import shutil
import threading
from array import array
from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from shared.durable import append_at, fsync_dir
from servidor.store.errors import storage_error

from .codec import (
    MAX_DELTA_MS,
    BlockHead,
    Hour,
    Point,
    block_head,
    decode_block,
    decode_journal,
    encode_block,
    encode_journal,
    hours_of,
)

from .files import cut_torn_tail, frames

log = logging.getLogger("servidor.pulsos")

# Points per sealed block: 8192 blinks are ~2 h at 4 kW on a 1000 imp/kWh meter; big enough for
# zlib to find the pattern, small enough that a query near "now" decodes little.
BLOCK_POINTS = 8192
# Decoded blocks kept for repeated queries (a live graph asks for the same hours again): 64 of
# 8192 points are ~6 MB.
CACHED_BLOCKS = 64
JOURNAL_NAME = "diario.dat"
BLOCKS_NAME = "blocos.dat"
_WHAT = "os pulsos"


@dataclass
class _Block:
    head: BlockHead
    offset: int   # of the frame's body in blocos.dat
    length: int


@dataclass
class _Stream:
    name: str
    directory: Path | None
    blocks: list[_Block] = field(default_factory=list)
    stamps: array = field(default_factory=lambda: array("q"))   # the journal's points
    ms: array = field(default_factory=lambda: array("i"))
    watermark: int = -1
    hours: dict[int, Hour] = field(default_factory=dict)
    blocks_size: int = 0
    journal_size: int = 0
    dropped: int = 0

    @property
    def count(self) -> int:
        return sum(b.head.count for b in self.blocks) + len(self.stamps)

    @property
    def last(self) -> Point | None:
        if self.stamps:
            return self.stamps[-1], self.ms[-1]
        return None


class BlinkStore:
    """Thread-safe; `directory` None keeps everything in memory (tests, a memory-only server)."""

    def __init__(self, directory: Path | None) -> None:
        self._dir = directory
        self._lock = threading.RLock()
        self._streams: dict[str, _Stream] = {}
        self._cache: OrderedDict[tuple[str, int], tuple[array, array]] = OrderedDict()
        self._memory_blocks: dict[tuple[str, int], bytes] = {}
        if directory is not None:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                for entry in sorted(os.scandir(directory), key=lambda e: e.name):
                    if entry.is_dir():
                        self._streams[entry.name] = self._load(entry.name, Path(entry.path))
            except OSError as exc:
                raise storage_error(exc, _WHAT, "ler") from exc

    @classmethod
    def open(cls, directory: Path) -> "BlinkStore":
        return cls(directory)

    @classmethod
    def memory(cls) -> "BlinkStore":
        return cls(None)

    # -- writing --------------------------------------------------------------------------------

    def append(self, stream: str, batches: Sequence[tuple[int, Sequence[Point]]]) -> int:
        """Store the blinks of each (reading seq, points), durably; returns how many were new.
        StorageFull / StorageUnavailable with nothing stored."""
        with self._lock:
            state = self._streams.get(stream)
            if state is None:
                state = _Stream(stream, None if self._dir is None else self._dir / stream)
            fresh = [(seq, pts) for seq, pts in batches if seq > state.watermark]
            if not fresh:
                return 0
            watermark = max(seq for seq, _ in fresh)
            last = state.last or self._last_sealed(state)
            points: list[Point] = []
            for _, pts in fresh:
                for point in pts:
                    if last is not None and point[0] <= last[0]:
                        state.dropped += 1
                        continue
                    points.append(point)
                    last = point
            data = encode_journal(watermark, points)
            if state.directory is not None:
                try:
                    if stream not in self._streams:
                        state.directory.mkdir(exist_ok=True)
                        fsync_dir(state.directory.parent)
                    append_at(state.directory / JOURNAL_NAME, state.journal_size, data)
                except OSError as exc:
                    raise storage_error(exc, _WHAT) from exc
            self._streams[stream] = state
            state.journal_size += len(data)
            state.watermark = watermark
            for stamp, ms in points:
                state.stamps.append(stamp)
                state.ms.append(ms)
            _add_hours(state.hours, hours_of(points))
            if len(state.stamps) >= BLOCK_POINTS:
                self._seal(stream, state)
            return len(points)

    def _seal(self, stream: str, state: _Stream) -> None:
        """Move the journal's points into blocks. A failure here leaves them in the journal, which
        stays valid: the request that triggered it was already stored."""
        points = list(zip(state.stamps, state.ms))
        runs: list[list[Point]] = [[]]
        for point in points:
            if runs[-1] and point[0] - runs[-1][-1][0] > MAX_DELTA_MS:
                runs.append([])
            runs[-1].append(point)
        frames = [encode_block(state.watermark, run) for run in runs]
        try:
            offset = state.blocks_size
            if state.directory is not None:
                append_at(state.directory / BLOCKS_NAME, state.blocks_size, b"".join(frames))
                append_at(state.directory / JOURNAL_NAME, 0, b"")
            for data in frames:
                body = data[8:]
                index = len(state.blocks)
                state.blocks.append(_Block(block_head(body), offset + 8, len(body)))
                if state.directory is None:
                    self._memory_blocks[(stream, index)] = body
                offset += len(data)
        except OSError as exc:
            log.warning("pulsos de %s: não foi possível selar o diário agora (%s); tento de novo depois", stream, exc)
            return
        state.blocks_size = offset
        state.journal_size = 0
        state.stamps = array("q")
        state.ms = array("i")

    def delete(self, stream: str) -> None:
        """Forget a stream and remove its files (its meter was deleted)."""
        with self._lock:
            state = self._streams.pop(stream, None)
            for key in [k for k in self._cache if k[0] == stream]:
                del self._cache[key]
            for key in [k for k in self._memory_blocks if k[0] == stream]:
                del self._memory_blocks[key]
            if state is not None and state.directory is not None:
                shutil.rmtree(state.directory, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            self._cache.clear()

    def file_images(self) -> tuple[dict[str, bytes], dict[str, int]]:
        """Every stream's files as this store has written them (`<stream>/blocos.dat`,
        `<stream>/diario.dat`) and its blinks, read at one instant under its lock: a backup's
        copy. Nothing in memory."""
        images: dict[str, bytes] = {}
        counts: dict[str, int] = {}
        with self._lock:
            for name, state in sorted(self._streams.items()):
                if state.directory is None:
                    continue
                counts[name] = state.count
                for file, size in ((BLOCKS_NAME, state.blocks_size), (JOURNAL_NAME, state.journal_size)):
                    try:
                        with open(state.directory / file, "rb") as f:
                            images[f"{name}/{file}"] = f.read(size)
                    except FileNotFoundError:
                        continue
                    except OSError as exc:
                        raise storage_error(exc, _WHAT, "ler") from exc
        return images, counts

    # -- reading --------------------------------------------------------------------------------

    def streams(self) -> list[str]:
        """The streams holding blinks (or a watermark), sorted."""
        with self._lock:
            return sorted(self._streams)

    def watermark(self, stream: str) -> int | None:
        state = self._streams.get(stream)
        return None if state is None or state.watermark < 0 else state.watermark

    def last(self, stream: str) -> Point | None:
        with self._lock:
            state = self._streams.get(stream)
            if state is None:
                return None
            return state.last or self._last_sealed(state)

    def between(self, stream: str, start: int, end: int | None = None) -> Iterator[Point]:
        """Points with start ≤ stamp < end (None: no end), ascending. A snapshot taken now:
        blinks stored meanwhile are not seen."""
        with self._lock:
            state = self._streams.get(stream)
            if state is None:
                return iter(())
            blocks = [(i, b.head) for i, b in enumerate(state.blocks)
                      if b.head.last_stamp >= start and (end is None or b.head.first_stamp < end)]
            journal = (state.stamps[:], state.ms[:])
        return self._iterate(stream, blocks, journal, start, end)

    def _iterate(self, stream: str, blocks: list[tuple[int, BlockHead]], journal: tuple[array, array],
                 start: int, end: int | None) -> Iterator[Point]:
        for index, _ in blocks:
            yield from _slice(*self._block(stream, index), start, end)
        yield from _slice(*journal, start, end)

    def since(self, stream: str, start: int, limit: int) -> list[Point]:
        out: list[Point] = []
        for point in self.between(stream, start):
            if len(out) >= limit:
                break
            out.append(point)
        return out

    def bucket_counts(self, stream: str, start: int, width: int, count: int) -> list[int]:
        """Blinks in each of `count` buckets of `width` ms from `start`. A block that falls inside
        one bucket is counted from its head, without reading its points, so a year of buckets
        costs about one decoded block per bucket edge, not one step per blink."""
        end = start + width * count
        totals = [0] * count
        with self._lock:
            state = self._streams.get(stream)
            if state is None:
                return totals
            blocks = [(i, b.head) for i, b in enumerate(state.blocks)
                      if b.head.last_stamp >= start and b.head.first_stamp < end]
            journal = (state.stamps[:], state.ms[:])
        for index, head in blocks:
            first = (head.first_stamp - start) // width
            if head.first_stamp >= start and head.last_stamp < end and first == (head.last_stamp - start) // width:
                totals[first] += head.count
                continue
            _count_into(totals, self._block(stream, index)[0], start, width, end)
        _count_into(totals, journal[0], start, width, end)
        return totals

    def hours(self, stream: str, start: int, end: int) -> list[Hour]:
        """The hourly table's rows with start ≤ hour start < end, ascending."""
        with self._lock:
            state = self._streams.get(stream)
            if state is None:
                return []
            return sorted((h for k, h in state.hours.items() if start <= k < end), key=lambda h: h.start_ms)

    def count(self, stream: str) -> int:
        with self._lock:
            state = self._streams.get(stream)
            return 0 if state is None else state.count

    def stats(self) -> dict:
        with self._lock:
            points = sum(s.count for s in self._streams.values())
            size = sum(s.blocks_size + s.journal_size for s in self._streams.values())
            dropped = sum(s.dropped for s in self._streams.values())
        return {"pulsos": points, "pulsos_bytes": size, "pulsos_fora_de_ordem": dropped}

    def _last_sealed(self, state: _Stream) -> Point | None:
        if not state.blocks:
            return None
        _, ms = self._block(state.name, len(state.blocks) - 1)
        return state.blocks[-1].head.last_stamp, ms[-1]

    def _block(self, stream: str, index: int) -> tuple[array, array]:
        key = (stream, index)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
            state = self._streams[stream]
            block = state.blocks[index]
            if state.directory is None:
                body = self._memory_blocks[key]
            else:
                try:
                    with open(state.directory / BLOCKS_NAME, "rb") as f:
                        f.seek(block.offset)
                        body = f.read(block.length)
                except OSError as exc:
                    raise storage_error(exc, _WHAT, "ler") from exc
            decoded = decode_block(body, block.head)
            self._cache[key] = decoded
            if len(self._cache) > CACHED_BLOCKS:
                self._cache.popitem(last=False)
            return decoded

    # -- opening --------------------------------------------------------------------------------

    def _load(self, name: str, directory: Path) -> _Stream:
        state = _Stream(name, directory)
        blocks_path, journal_path = directory / BLOCKS_NAME, directory / JOURNAL_NAME
        data = blocks_path.read_bytes() if blocks_path.exists() else b""
        pos = 0
        for body, end in frames(blocks_path, data):
            head = block_head(body)
            state.blocks.append(_Block(head, pos + 8, len(body)))
            state.watermark = max(state.watermark, head.watermark)
            _add_hours(state.hours, head.hours)
            pos = end
        state.blocks_size = cut_torn_tail(blocks_path, data, pos)
        data = journal_path.read_bytes() if journal_path.exists() else b""
        pos = 0
        sealed = state.watermark
        for body, end in frames(journal_path, data):
            watermark, points = decode_journal(body)
            pos = end
            if watermark <= sealed:
                continue  # sealed into a block before a crash emptied the journal
            state.watermark = watermark
            for stamp, ms in points:
                state.stamps.append(stamp)
                state.ms.append(ms)
            _add_hours(state.hours, hours_of(points))
        state.journal_size = cut_torn_tail(journal_path, data, pos)
        return state


def _add_hours(table: dict[int, Hour], rows: Sequence[Hour]) -> None:
    for row in rows:
        current = table.get(row.start_ms)
        table[row.start_ms] = row if current is None else current.merged(row)


def _count_into(totals: list[int], stamps: array, start: int, width: int, end: int) -> None:
    """Add the stamps of one sorted array to the buckets they fall in, by bisecting each edge."""
    low, high = bisect_left(stamps, start), bisect_left(stamps, end)
    while low < high:
        bucket = (stamps[low] - start) // width
        edge = bisect_left(stamps, start + (bucket + 1) * width, low, high)
        totals[bucket] += edge - low
        low = edge


def _slice(stamps: array, ms: array, start: int, end: int | None) -> Iterator[Point]:
    i = bisect_left(stamps, start)
    j = len(stamps) if end is None else bisect_left(stamps, end)
    return zip(stamps[i:j], ms[i:j])
