"""Byte formats of the store's files: the common header and the journal's self-checking records.

Pure functions, bytes in and values out; the files are opened elsewhere (journal.py,
segments.py). Everything on disk is little-endian.
"""
from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass
from typing import Iterator
from zlib import crc32

from .block import HAS_MEDIDAS, Columns
from .errors import InvalidMeterId, StoreCorrupt

# Version of every file this module and segment_codec.py write. A reader refuses newer
# versions (the message says "mais nova", which the CLI maps to its own exit code).
FORMAT_VERSION = 1
JOURNAL_MAGIC = b"MEJN"
SEGMENT_MAGIC = b"MESG"
LOCK_MAGIC = b"MELK"
_HEADER = struct.Struct("<4sHH")  # magic, format version, reserved (0)
HEADER_SIZE = _HEADER.size

# Record frame: payload length and CRC-32 of the payload. A crash mid-write leaves a record
# whose length runs past the end of the file or whose CRC does not match: recovery stops there.
_FRAME = struct.Struct("<II")
FRAME_SIZE = _FRAME.size
# A length above this is garbage from a torn header, not a record; one batch record holds at
# most MAX_READINGS_PER_RECORD readings of ≤ ~450 bytes each (a full set of measurements).
MAX_RECORD_BYTES = 64 * 2**20
# The store splits a larger append into several records so that a record stays small enough
# to decode whole during recovery and compaction.
MAX_READINGS_PER_RECORD = 65_536
# Meter ids are UUIDs or short names; the record keeps their length in 16 bits.
MAX_METER_ID_BYTES = 1024

KIND_BATCH = 1
KIND_TOMBSTONE = 2
_KIND_AND_ID = struct.Struct("<BH")
_U32 = struct.Struct("<I")

_LITTLE = sys.byteorder == "little"


def file_header(magic: bytes) -> bytes:
    return _HEADER.pack(magic, FORMAT_VERSION, 0)


def check_header(data: bytes, magic: bytes, name: str) -> int:
    """The format version in `data`'s header; StoreCorrupt if it is not ours or is too new."""
    if len(data) < HEADER_SIZE:
        raise StoreCorrupt(f"{name}: cabeçalho truncado ({len(data)} bytes)")
    found, version, _ = _HEADER.unpack_from(data)
    if found != magic:
        raise StoreCorrupt(f"{name}: assinatura {found!r} inesperada (esperada {magic!r}); não é um arquivo deste tipo")
    if version > FORMAT_VERSION:
        raise StoreCorrupt(f"{name}: versão de formato {version} mais nova que a suportada ({FORMAT_VERSION}); "
                           "atualize o servidor")
    if version < 1:
        raise StoreCorrupt(f"{name}: versão de formato {version} inválida")
    return version


def le_bytes(values: array) -> bytes:
    """The items of `values` as little-endian bytes."""
    if not _LITTLE:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def extend_le(values: array, data: bytes | memoryview) -> None:
    """Append the little-endian items in `data` to `values`."""
    if _LITTLE:
        values.frombytes(data)
    else:
        more = array(values.typecode)
        more.frombytes(data)
        more.byteswap()
        values.extend(more)


def encode_meter_id(meter_id: str) -> bytes:
    raw = meter_id.encode("utf-8") if isinstance(meter_id, str) else b""
    if not raw or len(raw) > MAX_METER_ID_BYTES:
        raise InvalidMeterId(f"id de medidor deve ter de 1 a {MAX_METER_ID_BYTES} bytes")
    return raw


def _frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), crc32(payload)) + payload


def encode_batch(meter_id: bytes, cols: Columns) -> bytes:
    """A framed record of readings for one meter: the columns one after the other, then the
    measurement blobs (length-prefixed) of the readings flagged HAS_MEDIDAS."""
    parts = [_KIND_AND_ID.pack(KIND_BATCH, len(meter_id)), meter_id, _U32.pack(len(cols)),
             le_bytes(cols.seq), le_bytes(cols.ts), le_bytes(cols.energia), le_bytes(cols.potencia),
             cols.flags.tobytes()]
    if cols.medidas is not None:
        for blob in cols.medidas:
            if blob:
                parts.append(_U32.pack(len(blob)))
                parts.append(blob)
    return _frame(b"".join(parts))


def encode_tombstone(meter_id: bytes) -> bytes:
    """A framed record saying: forget every earlier reading of this meter."""
    return _frame(_KIND_AND_ID.pack(KIND_TOMBSTONE, len(meter_id)) + meter_id)


@dataclass(frozen=True, slots=True)
class Tombstone:
    meter_id: str


@dataclass(frozen=True, slots=True)
class Batch:
    """A decoded batch record. The column fields are views into the journal's buffer, valid
    only while it lives: copy them (`Accumulator.add_batch`) rather than keeping them."""

    meter_id: str
    count: int
    seq: memoryview
    ts: memoryview
    energia: memoryview
    potencia: memoryview
    flags: memoryview
    medidas: list[bytes | None] | None

    def columns(self) -> Columns:
        acc = Accumulator()
        acc.add_batch(self)
        return acc.columns()


def iter_frames(buf: bytes, start: int) -> Iterator[tuple[memoryview, int]]:
    """(payload, end offset) of each intact record from `start`, stopping silently at the first
    torn or damaged one: the last end yielded is where the intact log ends."""
    view = memoryview(buf)
    size = len(buf)
    pos = start
    while pos + FRAME_SIZE <= size:
        length, crc = _FRAME.unpack_from(buf, pos)
        end = pos + FRAME_SIZE + length
        if length == 0 or length > MAX_RECORD_BYTES or end > size:
            return
        payload = view[pos + FRAME_SIZE:end]
        if crc32(payload) != crc:
            return
        yield payload, end
        pos = end


def decode_payload(payload: memoryview) -> Batch | Tombstone:
    """The record in an intact (CRC-checked) payload; StoreCorrupt if its structure is wrong,
    which a matching CRC makes a writer bug or a deliberate edit rather than a torn write."""
    try:
        kind, id_len = _KIND_AND_ID.unpack_from(payload)
        pos = _KIND_AND_ID.size + id_len
        meter_id = bytes(payload[_KIND_AND_ID.size:pos]).decode("utf-8")
        if kind == KIND_TOMBSTONE and pos == len(payload):
            return Tombstone(meter_id)
        if kind != KIND_BATCH:
            raise StoreCorrupt(f"registro de tipo {kind} desconhecido no diário")
        (n,) = _U32.unpack_from(payload, pos)
        pos += _U32.size
        cols = []
        for width in (8, 8, 8, 8, 1):
            cols.append(payload[pos:pos + width * n])
            pos += width * n
        if pos > len(payload):
            raise StoreCorrupt("registro de leituras truncado no diário")
        medidas = None
        if pos < len(payload):
            medidas = []
            for flag in cols[4]:
                if flag & HAS_MEDIDAS:
                    (size,) = _U32.unpack_from(payload, pos)
                    medidas.append(bytes(payload[pos + 4:pos + 4 + size]))
                    pos += 4 + size
                else:
                    medidas.append(None)
            if pos != len(payload):
                raise StoreCorrupt("registro de leituras com bytes sobrando no diário")
    except (struct.error, UnicodeDecodeError) as exc:
        raise StoreCorrupt(f"registro ilegível no diário: {exc}") from None
    return Batch(meter_id, n, *cols, medidas)


class Accumulator:
    """Columns that grow by whole batches or blocks, copying bytes straight into arrays (no
    per-reading objects): the fast path of recovery and compaction."""

    __slots__ = ("seq", "ts", "energia", "potencia", "flags", "medidas", "count")

    def __init__(self) -> None:
        self.seq, self.ts = array("q"), array("q")
        self.energia, self.potencia = array("d"), array("d")
        self.flags = array("B")
        self.medidas: list[bytes | None] | None = None
        self.count = 0

    def _add_medidas(self, medidas: list[bytes | None] | None, n: int) -> None:
        if medidas is not None and self.medidas is None:
            self.medidas = [None] * self.count
        if self.medidas is not None:
            self.medidas.extend(medidas if medidas is not None else [None] * n)
        self.count += n

    def add_batch(self, batch: Batch) -> None:
        extend_le(self.seq, batch.seq)
        extend_le(self.ts, batch.ts)
        extend_le(self.energia, batch.energia)
        extend_le(self.potencia, batch.potencia)
        self.flags.frombytes(batch.flags)
        self._add_medidas(batch.medidas, batch.count)

    def add_columns(self, cols: Columns) -> None:
        self.seq.extend(cols.seq)
        self.ts.extend(cols.ts)
        self.energia.extend(cols.energia)
        self.potencia.extend(cols.potencia)
        self.flags.extend(cols.flags)
        self._add_medidas(cols.medidas, len(cols))

    def columns(self) -> Columns:
        return Columns(self.seq, self.ts, self.energia, self.potencia, self.flags, self.medidas)
