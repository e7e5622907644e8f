"""Self-checking frames, the unit of every store file after its header, and how damage among
them is found and contained. Pure functions, no I/O.

Frame: u32 payload length | u32 CRC-32 of the payload | payload. A reader walks frame to frame;
at a frame that fails its check it does not stop there (that would silently drop everything
after one flipped byte) but resynchronises: it tries each following offset until one holds an
intact frame, and reports the bytes in between as a `Damage`. Only where a crash can cut a
write (the end of the active journal) may an incomplete last frame pass as a torn tail.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Callable
from zlib import crc32

from .errors import Damage, StoreCorrupt

FRAME = struct.Struct("<II")
FRAME_SIZE = FRAME.size
# A length above this is garbage, not a frame: one journal record holds at most 65,536
# readings of ≤ ~450 bytes each (a full set of measurements), a segment chunk far fewer.
MAX_FRAME_BYTES = 64 * 2**20

# (buffer, payload start, payload end) -> whether the payload's header is possible. Cheap, and
# run before the CRC, so that resynchronising through garbage rarely computes a checksum.
Plausible = Callable[[bytes, int, int], bool]
# Decodes a payload, raising StoreCorrupt (or ValueError, struct.error) if it does not; run
# after the CRC. Its results are the scan's values.
Check = Callable[[memoryview], Any]
# (buffer, start of the bad bytes) -> pt-BR guess of what they held.
Describe = Callable[[bytes, int], str]
# (buffer, start of the bad bytes) -> whether they are a write cut short by a crash.
TornTail = Callable[[bytes, int], bool]


def frame(payload: bytes) -> bytes:
    return FRAME.pack(len(payload), crc32(payload)) + payload


def intact_end(buf: bytes, pos: int, plausible: Plausible) -> int | None:
    """The end of the intact frame starting at `pos`, or None."""
    size = len(buf)
    if pos + FRAME_SIZE > size:
        return None
    length, crc = FRAME.unpack_from(buf, pos)
    body = pos + FRAME_SIZE
    end = body + length
    if length == 0 or length > MAX_FRAME_BYTES or end > size or not plausible(buf, body, end):
        return None
    return end if crc32(memoryview(buf)[body:end]) == crc else None


def resync(buf: bytes, pos: int, plausible: Plausible) -> int | None:
    """The first offset at or after `pos` where an intact frame starts, or None."""
    for start in range(pos, len(buf) - FRAME_SIZE + 1):
        if intact_end(buf, start, plausible) is not None:
            return start
    return None


def all_zero(buf: bytes, pos: int) -> bool:
    """Some file systems leave zeros after a crash where an unsynced append was (XFS)."""
    return not buf[pos:].strip(b"\0")


@dataclass(frozen=True, slots=True)
class BadRegion:
    """Where a reader that met bad bytes at `start` goes on: `resume` (None: the end of the
    buffer), and the `damage`, None when the bytes are a torn tail."""

    start: int
    resume: int | None
    damage: Damage | None


def bad_region(buf: bytes, start: int, name: str, plausible: Plausible, describe: Describe,
               torn: TornTail | None) -> BadRegion:
    """Classify the bad bytes starting at `start` (see the module doc)."""
    resume = resync(buf, start + 1, plausible)
    end = len(buf) if resume is None else resume
    if resume is None and torn is not None and torn(buf, start):
        return BadRegion(start, None, None)
    return BadRegion(start, resume, Damage(name, start, end - start, describe(buf, start)))


def step_past(buf: bytes, pos: int, name: str, plausible: Plausible, describe: Describe, torn: TornTail | None,
              damages: list[Damage]) -> tuple[int | None, int]:
    """For a reader at bad bytes `pos`: (where to go on, None at the end; bytes of torn tail),
    the damage, if it is damage, added to `damages`."""
    region = bad_region(buf, pos, name, plausible, describe, torn)
    if region.damage is None:
        return None, len(buf) - pos
    damages.append(region.damage)
    return region.resume, 0


@dataclass(frozen=True, slots=True)
class FrameScan:
    """The intact frames of a buffer as (start, end) spans with what `check` made of each, the
    damaged bytes, and the size of a torn tail (0 if none)."""

    spans: tuple[tuple[int, int], ...]
    values: tuple[Any, ...]
    damages: tuple[Damage, ...]
    torn: int


def scan_frames(buf: bytes, start: int, name: str, plausible: Plausible, check: Check, describe: Describe,
                torn: TornTail | None = None) -> FrameScan:
    """Every intact frame from `start`, resynchronising past damage. A frame whose CRC holds
    but whose payload does not decode is damage too."""
    view = memoryview(buf)
    spans: list[tuple[int, int]] = []
    values: list[Any] = []
    damages: list[Damage] = []
    pos, size, torn_bytes = start, len(buf), 0
    while pos < size:
        end = intact_end(buf, pos, plausible)
        if end is not None:
            try:
                values.append(check(view[pos + FRAME_SIZE:end]))
            except (StoreCorrupt, ValueError, struct.error, IndexError, KeyError):
                end = None
        if end is not None:
            spans.append((pos, end))
            pos = end
            continue
        resume, torn_bytes = step_past(buf, pos, name, plausible, describe, torn, damages)
        if resume is None:
            break
        pos = resume
    return FrameScan(tuple(spans), tuple(values), tuple(damages), torn_bytes)
