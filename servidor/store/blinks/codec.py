"""Blink frames as bytes: journal frames (a batch as it arrived) and sealed blocks (compressed).

Pure functions over `bytes`; no files here. A frame is `length u32, CRC-32 u32` (little-endian,
CRC over the body) then the body. A point is blipserver's `(stamp_ms, ms)`: when the blink was
seen, and the milliseconds since the previous one.

* Journal body: `J`, watermark u64 (the highest reading seq whose blinks this frame completes),
  count u32, then count × (stamp i64, ms i32). 12 bytes a point: written on every ingest, fsynced,
  and kept only until BLOCK_POINTS are waiting.
* Block body: `B`, watermark u64, count u32, first and last stamp i64, the hourly summary of its
  points (see Hour), then zlib of two int32 columns, bytes grouped by significance: ms, and what
  each stamp delta exceeds its ms by (host jitter, a few ms). About two bytes a point for a real
  meter's wandering intervals (bench/blinks.py measures it).
"""
from __future__ import annotations

import struct
import zlib
from array import array
from dataclasses import dataclass
from itertools import accumulate
from typing import Iterable, Sequence

FRAME = struct.Struct("<II")
_JOURNAL = struct.Struct("<cQI")
_POINT = struct.Struct("<qi")
_BLOCK = struct.Struct("<cQIqqI")
_HOUR = struct.Struct("<qIqii")
HOUR_MS = 3_600_000
# A frame longer than this is a damaged length, not data: a block holds BLOCK_POINTS points
# (well under 1 MiB even uncompressed) and a journal frame one request's blinks.
MAX_FRAME_BYTES = 16 * 1024 * 1024
# int32 columns: an interval or a gap between stamps beyond ~24 days does not fit; such a gap is
# stored by starting a new block (see encode_block's caller), never by wrapping.
MAX_DELTA_MS = 2**31 - 1
_ZLIB_LEVEL = 9
_BIG_ENDIAN = array("i", [1]).tobytes()[0] != 1

Point = tuple[int, int]


class FrameDamaged(ValueError):
    """A complete frame whose bytes do not check out: damage to data that was durable."""


@dataclass(frozen=True, slots=True)
class Hour:
    """blipserver's hourly table row: blinks in one UTC hour, the sum, least and most of their ms."""

    start_ms: int
    events: int
    sum_ms: int
    min_ms: int
    max_ms: int

    def merged(self, other: "Hour") -> "Hour":
        return Hour(self.start_ms, self.events + other.events, self.sum_ms + other.sum_ms,
                    min(self.min_ms, other.min_ms), max(self.max_ms, other.max_ms))


@dataclass(frozen=True, slots=True)
class BlockHead:
    watermark: int
    count: int
    first_stamp: int
    last_stamp: int
    hours: tuple[Hour, ...]
    data_offset: int  # where the compressed columns start inside the frame's body


def hours_of(points: Iterable[Point]) -> list[Hour]:
    """The hourly table rows of `points` (ascending stamps), one per UTC hour that has any."""
    rows: list[Hour] = []
    start = events = total = low = high = 0
    for stamp, ms in points:
        hour = stamp - stamp % HOUR_MS
        if events and hour == start:
            events += 1
            total += ms
            low = min(low, ms)
            high = max(high, ms)
            continue
        if events:
            rows.append(Hour(start, events, total, low, high))
        start, events, total, low, high = hour, 1, ms, ms, ms
    if events:
        rows.append(Hour(start, events, total, low, high))
    return rows


def frame(body: bytes) -> bytes:
    return FRAME.pack(len(body), zlib.crc32(body)) + body


def read_frame(data: bytes | memoryview, pos: int) -> tuple[bytes, int] | None:
    """The body of the frame at `pos` and the offset after it; None when the bytes end first
    (a torn tail). FrameDamaged for a complete frame that fails its CRC or an impossible length."""
    if pos + FRAME.size > len(data):
        return None
    length, crc = FRAME.unpack_from(data, pos)
    if length > MAX_FRAME_BYTES:
        raise FrameDamaged(f"tamanho de quadro impossível ({length} bytes)")
    end = pos + FRAME.size + length
    if end > len(data):
        return None
    body = bytes(data[pos + FRAME.size:end])
    if zlib.crc32(body) != crc:
        raise FrameDamaged("CRC não confere (bytes alterados)")
    return body, end


def encode_journal(watermark: int, points: Sequence[Point]) -> bytes:
    return frame(_JOURNAL.pack(b"J", watermark, len(points)) + b"".join(_POINT.pack(s, m) for s, m in points))


def decode_journal(body: bytes) -> tuple[int, list[Point]]:
    kind, watermark, count = _JOURNAL.unpack_from(body, 0)
    if kind != b"J" or len(body) != _JOURNAL.size + count * _POINT.size:
        raise FrameDamaged("quadro do diário com tamanho incoerente")
    return watermark, [p for p in _POINT.iter_unpack(body[_JOURNAL.size:])]


def encode_block(watermark: int, points: Sequence[Point]) -> bytes:
    """One sealed block of `points` (ascending stamps, consecutive stamps < MAX_DELTA_MS apart)."""
    stamps = [s for s, _ in points]
    ms = [m for _, m in points]
    # The host stamps a blink about `ms` after the previous one: what is left of the stamp delta
    # after subtracting ms is a few ms of jitter, nearly free to compress.
    residuals = (b - a - m for a, b, m in zip(stamps, stamps[1:], ms[1:]))
    columns = array("i", ms)
    columns.extend(residuals)
    hours = hours_of(points)
    head = _BLOCK.pack(b"B", watermark, len(points), stamps[0], stamps[-1], len(hours))
    rows = b"".join(_HOUR.pack(h.start_ms, h.events, h.sum_ms, h.min_ms, h.max_ms) for h in hours)
    return frame(head + rows + zlib.compress(_planes(columns), _ZLIB_LEVEL))


def _planes(columns: array) -> bytes:
    """The int32 values' bytes grouped by significance (all low bytes, then the next, …): the
    high bytes are nearly all 0 or 0xFF and compress to nothing."""
    if _BIG_ENDIAN:  # explicit little-endian on every machine: the files move between them
        columns = array("i", columns)
        columns.byteswap()
    raw = columns.tobytes()
    return b"".join(raw[k::4] for k in range(4))


def _unplanes(data: bytes) -> array:
    size = len(data) // 4
    raw = bytearray(len(data))
    for k in range(4):
        raw[k::4] = data[k * size:(k + 1) * size]
    columns = array("i")
    columns.frombytes(bytes(raw))
    if _BIG_ENDIAN:
        columns.byteswap()
    return columns


def block_head(body: bytes) -> BlockHead:
    kind, watermark, count, first, last, nhours = _BLOCK.unpack_from(body, 0)
    if kind != b"B" or count == 0:
        raise FrameDamaged("bloco com cabeçalho incoerente")
    pos = _BLOCK.size
    hours = tuple(Hour(*_HOUR.unpack_from(body, pos + i * _HOUR.size)) for i in range(nhours))
    return BlockHead(watermark, count, first, last, hours, pos + nhours * _HOUR.size)


def decode_block(body: bytes, head: BlockHead) -> tuple[array, array]:
    """(stamps, ms) of a block as int64 / int32 arrays."""
    raw = zlib.decompress(body[head.data_offset:])
    count = head.count
    if len(raw) != (2 * count - 1) * 4:
        raise FrameDamaged("bloco com colunas de tamanho incoerente")
    columns = _unplanes(raw)
    ms = columns[:count]
    deltas = (r + m for r, m in zip(columns[count:], ms[1:]))
    return array("q", accumulate(deltas, initial=head.first_stamp)), ms
