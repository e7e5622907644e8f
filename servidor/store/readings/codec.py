"""Byte formats of the store's files: the common header and the journal's self-checking records.

Pure functions, bytes in and values out; the files are opened elsewhere (journal.py,
segments.py). Everything on disk is little-endian.
"""
from __future__ import annotations

import struct
import sys
from array import array
from typing import Callable
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


def gather(buf: bytes, start: int, blocks: dict[str, "Accumulator"], on_tombstone: Callable[[str], None]) -> int:
    """Add the readings of every intact record from `start` to `blocks` (per meter), calling
    `on_tombstone(meter_id)` at each tombstone; return where the intact records end. The
    first torn or damaged record ends the log silently: its start is returned.

    The one decoder of journal records, written for recovery speed: a journal of
    single-reading appends holds a million records, so this loop makes no object per record
    beyond the column views it copies straight into the meter's arrays."""
    view = memoryview(buf)
    size = len(buf)
    ids: dict[bytes, str] = {}
    unpack_frame, unpack_head, unpack_u32 = _FRAME.unpack_from, _KIND_AND_ID.unpack_from, _U32.unpack_from
    head_size = _KIND_AND_ID.size
    pos = start
    while pos + FRAME_SIZE <= size:
        length, crc = unpack_frame(buf, pos)
        body = pos + FRAME_SIZE
        end = body + length
        if length == 0 or length > MAX_RECORD_BYTES or end > size or crc32(view[body:end]) != crc:
            break
        try:
            kind, id_len = unpack_head(buf, body)
            at = body + head_size + id_len
            raw_id = buf[body + head_size:at]
            meter_id = ids.get(raw_id)
            if meter_id is None:
                meter_id = ids[raw_id] = raw_id.decode("utf-8")
            if kind == KIND_BATCH:
                (n,) = unpack_u32(buf, at)
                at += _U32.size
                columns_end = at + 33 * n  # seq, ts, energia, potencia: 8 bytes each; flags: 1
                if columns_end > end:
                    raise StoreCorrupt("registro de leituras truncado no diário")
                medidas = _split_medidas(view[:end], columns_end - n, n) if columns_end < end else None
                block = blocks.get(meter_id)
                if block is None:
                    block = blocks[meter_id] = Accumulator()
                block.add_raw(view, at, n, medidas)
            elif kind == KIND_TOMBSTONE and at == end:
                on_tombstone(meter_id)
            else:
                raise StoreCorrupt(f"registro de tipo {kind} desconhecido no diário")
        except (struct.error, UnicodeDecodeError) as exc:
            raise StoreCorrupt(f"registro ilegível no diário: {exc}") from None
        pos = end
    return pos


def _split_medidas(payload: memoryview, flags_at: int, n: int) -> list[bytes | None]:
    """The length-prefixed blobs after the columns, one per reading flagged HAS_MEDIDAS."""
    pos = flags_at + n
    out: list[bytes | None] = []
    for flag in payload[flags_at:flags_at + n]:
        if flag & HAS_MEDIDAS:
            (size,) = _U32.unpack_from(payload, pos)
            out.append(bytes(payload[pos + 4:pos + 4 + size]))
            pos += 4 + size
        else:
            out.append(None)
    if pos != len(payload):
        raise StoreCorrupt("registro de leituras com bytes sobrando no diário")
    return out


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

    def add_raw(self, view: memoryview, pos: int, n: int, medidas: list[bytes | None] | None) -> None:
        """Append the n readings whose columns start at `pos` of a batch record."""
        if _LITTLE:  # the common case, inlined: this runs once per record during recovery
            self.seq.frombytes(view[pos:pos + 8 * n])
            self.ts.frombytes(view[pos + 8 * n:pos + 16 * n])
            self.energia.frombytes(view[pos + 16 * n:pos + 24 * n])
            self.potencia.frombytes(view[pos + 24 * n:pos + 32 * n])
        else:
            extend_le(self.seq, view[pos:pos + 8 * n])
            extend_le(self.ts, view[pos + 8 * n:pos + 16 * n])
            extend_le(self.energia, view[pos + 16 * n:pos + 24 * n])
            extend_le(self.potencia, view[pos + 24 * n:pos + 32 * n])
        self.flags.frombytes(view[pos + 32 * n:pos + 33 * n])
        if medidas is None and self.medidas is None:
            self.count += n
        else:
            self._add_medidas(medidas, n)

    def add_columns(self, cols: Columns) -> None:
        self.seq.extend(cols.seq)
        self.ts.extend(cols.ts)
        self.energia.extend(cols.energia)
        self.potencia.extend(cols.potencia)
        self.flags.extend(cols.flags)
        self._add_medidas(cols.medidas, len(cols))

    def columns(self) -> Columns:
        return Columns(self.seq, self.ts, self.energia, self.potencia, self.flags, self.medidas)
