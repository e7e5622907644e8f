"""What a spool directory holds, read without changing anything: the pending records, where
the next append goes, a torn tail to cut, and any damage.

Used when a spool opens (damage refuses the open), by `medidor reparar` (which copies every
intact record out of a damaged spool) and by tests that watch a running agent's spool.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .cursor import Cursor
from .errors import Damage, DamageReport
from .layout import list_segments, segment_path
from .records import SpoolRecord, classify_tail, next_record, record_at, what_is_wrong

# Used to estimate how many readings a damaged span held when no intact record gives an average.
_TYPICAL_RECORD_BYTES = 250


@dataclass(frozen=True, slots=True)
class TornTail:
    """The end of the newest segment an interrupted append left: cut off when the spool opens."""

    segment: int
    offset: int
    size: int
    seq: int | None       # the seq its header named, never to be used again


@dataclass(frozen=True, slots=True)
class Inspection:
    cursor: Cursor                 # as read, or the start of the oldest segment
    stale: tuple[int, ...]         # segments before the cursor: acknowledged, left by a crash
    segments: tuple[int, ...]      # segments from the cursor's on
    pending: int
    last_seq: int | None           # the highest seq that may never be used again
    last_payload: bytes | None     # the newest record's payload (sent or not)
    active: int                    # the segment appends go to
    active_size: int               # where the next append goes
    torn: TornTail | None
    damage: tuple[Damage, ...]
    report: DamageReport | None    # set when there is damage


OnRecord = Callable[[int, int, SpoolRecord], None]


def inspect(directory: Path, cursor: Cursor | None, on_record: OnRecord | None = None) -> Inspection:
    """Read the spool in `directory` from `cursor` (None: from the oldest segment); `on_record`
    sees every intact pending record in order (segment, offset, record), damage or not."""
    present = list_segments(directory)
    if cursor is None:
        cursor = Cursor(present[0] if present else 0, 0)
        known_start = False
    else:
        known_start = True
    stale = tuple(i for i in present if i < cursor.segment)
    live = [i for i in present if i >= cursor.segment]
    damage: list[Damage] = []
    # Segments are numbered one after another and the cursor's segment exists from the moment
    # the cursor names it; a missing one is a file lost with its readings.
    if known_start and (not live or live[0] != cursor.segment):
        damage.append(Damage(segment_path(directory, cursor.segment), 0, 0, "segmento ausente (apagado?)"))
    chain = sorted({cursor.segment, *live}) if known_start else live
    for before, after in zip(chain, chain[1:]):
        for missing in range(before + 1, after):
            damage.append(Damage(segment_path(directory, missing), 0, 0, "segmento ausente (apagado?)"))

    last_seq = cursor.acked_seq
    last_payload = cursor.acked_payload
    pending = before_damage = after_damage = record_bytes = 0
    torn: TornTail | None = None
    active_size = 0
    for index in live:
        path = segment_path(directory, index)
        data = path.read_bytes()
        pos = cursor.offset if index == cursor.segment else 0
        if pos > len(data):
            damage.append(Damage(path, len(data), pos, "o arquivo acaba antes da posição já confirmada"))
            pos = len(data)
        while pos < len(data):
            found = record_at(data, pos)
            if found is not None:
                record, end = found
                if last_seq is not None and record.seq <= last_seq:
                    damage.append(Damage(path, pos, end, f"seq {record.seq} fora de ordem (depois de {last_seq})"))
                else:
                    pending += 1
                    record_bytes += end - pos
                    if damage:
                        after_damage += 1
                    else:
                        before_damage += 1
                    last_seq, last_payload = record.seq, record.payload
                    if on_record is not None:
                        on_record(index, pos, record)
                pos = end
                continue
            resume = next_record(data, pos)
            if resume is None and index == live[-1]:
                tail = classify_tail(data, pos, last_seq)
                if tail.torn:
                    torn = TornTail(index, pos, len(data) - pos, tail.seq)
                    break
            reason = what_is_wrong(data, pos, last_seq)
            damage.append(Damage(path, pos, len(data) if resume is None else resume, reason))
            pos = len(data) if resume is None else resume
        active_size = pos

    floor_seq = None if cursor.floor is None else cursor.floor - 1
    torn_seq = None if torn is None else torn.seq
    highest = max((s for s in (last_seq, floor_seq, torn_seq) if s is not None), default=None)
    report = None
    if damage:
        damaged_bytes = sum(d.size for d in damage)
        average = record_bytes / pending if pending else _TYPICAL_RECORD_BYTES
        report = DamageReport(directory, tuple(damage), before_damage, after_damage,
                              round(damaged_bytes / average))
    return Inspection(cursor, stale, tuple(live), pending, highest, last_payload,
                      live[-1] if live else cursor.segment, active_size if live else 0, torn, tuple(damage), report)
