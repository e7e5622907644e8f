"""Spool records as bytes: the format, and where whole records are in a segment's bytes.

A record is a 16-byte header — payload length u32, seq u64, CRC-32 u32 over seq and payload,
little-endian — followed by the payload. Pure functions over `bytes`; no files here.

Telling a torn tail from damage is the point of this module. An append that never returned
(a `kill -9`, a power cut, a full disk) can leave only the beginning of what it was writing, or
zeros where the file grew before its data landed; it never leaves a complete record with a bad
CRC, nor a valid record after the broken one. Anything else is damage to data that was durable,
and only a person may decide to drop it (see `classify_tail`).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Iterator

HEADER = struct.Struct("<IQI")
HEADER_SIZE = HEADER.size
# A reading is 100-2,000 bytes of JSON (15 measurement codes of at most 4 values each); a
# length beyond this is a damaged header, not a record. Also bounds the cursor file's slots.
MAX_RECORD_BYTES = 16 * 1024
# Seqs are JSON integers the server keeps as signed 64-bit values.
SEQ_LIMIT = 2**63


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    seq: int
    payload: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.seq < SEQ_LIMIT:
            raise ValueError(f"seq out of range: {self.seq}")
        if len(self.payload) > MAX_RECORD_BYTES:
            raise ValueError(f"record of {len(self.payload)} bytes exceeds {MAX_RECORD_BYTES}")


def _crc(seq: int, payload: bytes | memoryview) -> int:
    return zlib.crc32(payload, zlib.crc32(seq.to_bytes(8, "little")))


def encode(record: SpoolRecord) -> bytes:
    return HEADER.pack(len(record.payload), record.seq, _crc(record.seq, record.payload)) + record.payload


def record_at(data: bytes, pos: int) -> tuple[SpoolRecord, int] | None:
    """The whole, valid record that starts at `pos` and the offset after it, or None."""
    if pos + HEADER_SIZE > len(data):
        return None
    length, seq, crc = HEADER.unpack_from(data, pos)
    end = pos + HEADER_SIZE + length
    if length > MAX_RECORD_BYTES or end > len(data) or seq >= SEQ_LIMIT:
        return None
    payload = data[pos + HEADER_SIZE:end]
    if _crc(seq, payload) != crc:
        return None
    return SpoolRecord(seq, payload), end


def scan(data: bytes, start: int = 0) -> Iterator[tuple[int, SpoolRecord, int]]:
    """(offset, record, next offset) for the valid records from `start`, stopping at the first
    position that does not hold one; the caller compares the last `next offset` with the end."""
    pos = start
    while True:
        found = record_at(data, pos)
        if found is None:
            return
        record, end = found
        yield pos, record, end
        pos = end


def next_record(data: bytes, start: int) -> int | None:
    """The first offset after `start` where a valid record begins: where reading resumes after
    damage. Byte by byte, so only damaged spans pay for it; the length bound rejects most
    offsets before a CRC is computed, and a false match has odds of 2⁻³²."""
    size = len(data)
    unpack = HEADER.unpack_from
    for pos in range(start + 1, size - HEADER_SIZE + 1):
        length, seq, crc = unpack(data, pos)
        end = pos + HEADER_SIZE + length
        if length > MAX_RECORD_BYTES or end > size or seq >= SEQ_LIMIT:
            continue
        if _crc(seq, data[pos + HEADER_SIZE:end]) == crc:
            return pos
    return None


def what_is_wrong(data: bytes, pos: int, last_seq: int | None) -> str:
    """Why no valid record starts at `pos`, in pt-BR, for the damage report."""
    if pos + HEADER_SIZE > len(data):
        return f"cabeçalho incompleto ({len(data) - pos} bytes no fim do arquivo)"
    length, seq, crc = HEADER.unpack_from(data, pos)
    if length > MAX_RECORD_BYTES:
        return f"tamanho de registro impossível ({length} bytes)"
    if pos + HEADER_SIZE + length > len(data):
        return f"registro cortado (declara {length} bytes, o arquivo acaba antes)"
    if seq >= SEQ_LIMIT:
        return f"seq impossível ({seq})"
    if _crc(seq, data[pos + HEADER_SIZE:pos + HEADER_SIZE + length]) != crc:
        return "CRC não confere (bytes alterados)"
    if last_seq is not None and seq <= last_seq:
        return f"seq {seq} fora de ordem (depois de {last_seq})"
    return "registro inválido"


@dataclass(frozen=True, slots=True)
class Tail:
    """What the bytes from a bad position to the end of the newest segment are."""

    torn: bool
    # The seq a torn record's header names: it may have been a durable record whose length
    # bits flipped, so it is never used again (see Spool and the cursor's floor).
    seq: int | None = None


def classify_tail(data: bytes, pos: int, last_seq: int | None) -> Tail:
    """Whether the end of the newest segment from `pos` (where no valid record starts and after
    which none follows) is what an interrupted append leaves. Torn: fewer bytes than a header;
    only zeros; or a plausible header (bounded length, a seq after `last_seq`) whose record runs
    past the end of the file. Anything else — a complete record with a bad CRC, an impossible
    length, a seq out of order — is damage."""
    remaining = len(data) - pos
    if remaining < HEADER_SIZE or data.count(b"\0", pos) == remaining:
        return Tail(True)
    length, seq, _ = HEADER.unpack_from(data, pos)
    runs_past_end = pos + HEADER_SIZE + length > len(data)
    plausible = length <= MAX_RECORD_BYTES and seq < SEQ_LIMIT and (last_seq is None or seq > last_seq)
    if runs_past_end and plausible:
        return Tail(True, seq)
    return Tail(False)
