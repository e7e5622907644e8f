"""Byte formats of the store's files: the common header and the journal's self-checking records.

Pure functions, bytes in and values out; the files are opened elsewhere (journal.py,
segments.py). Everything on disk is little-endian.
"""
from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass
from typing import Callable
from zlib import crc32

from shared.models import Reading

from . import frames
from .block import ESTIMADA, HAS_MEDIDAS, NAN, Columns
from .errors import Damage, InvalidMeterId, StoreCorrupt

# Format versions. A reader refuses newer versions (the message says "mais nova", which the CLI
# maps to its own exit code). Segments went to 2 when they became a sequence of frames.
FORMAT_VERSION = 1
JOURNAL_VERSION = 1
SEGMENT_VERSION = 2
DELETED_VERSION = 1
JOURNAL_MAGIC = b"MEJN"
SEGMENT_MAGIC = b"MESG"
LOCK_MAGIC = b"MELK"
DELETED_MAGIC = b"MEDS"
_HEADER = struct.Struct("<4sHH")  # magic, format version, reserved (0)
HEADER_SIZE = _HEADER.size

# Records are frames (frames.py): a crash mid-write leaves a record whose length runs past the
# end of the file; a flipped bit, one whose CRC does not match.
FRAME_SIZE = frames.FRAME_SIZE
MAX_RECORD_BYTES = frames.MAX_FRAME_BYTES
# The store splits a larger append into several records so that a record stays small enough
# to decode whole during recovery and compaction.
MAX_READINGS_PER_RECORD = 65_536
# Meter ids are UUIDs or short names; the record keeps their length in 16 bits.
MAX_METER_ID_BYTES = 1024

KIND_BATCH = 1
# Written by earlier versions only: "forget the readings of this meter stored before me". A
# deleted stream is now dead forever (deleted.py), which a record in one file cannot say.
KIND_TOMBSTONE = 2
_KIND_AND_ID = struct.Struct("<BH")
_U32 = struct.Struct("<I")
# seq, ts, energia, potencia: 8 bytes each; flags: 1.
_BYTES_PER_READING = 33

_LITTLE = sys.byteorder == "little"


def file_header(magic: bytes, version: int = FORMAT_VERSION) -> bytes:
    return _HEADER.pack(magic, version, 0)


def check_header(data: bytes, magic: bytes, name: str, newest: int = FORMAT_VERSION) -> int:
    """The format version in `data`'s header; StoreCorrupt if it is not ours or is newer than
    `newest`."""
    if len(data) < HEADER_SIZE:
        raise StoreCorrupt(f"{name}: cabeçalho truncado ({len(data)} bytes)")
    found, version, _ = _HEADER.unpack_from(data)
    if found != magic:
        raise StoreCorrupt(f"{name}: assinatura {found!r} inesperada (esperada {magic!r}); não é um arquivo deste tipo")
    if version > newest:
        raise StoreCorrupt(f"{name}: versão de formato {version} mais nova que a suportada ({newest}); "
                           "atualize o servidor")
    if version < 1:
        raise StoreCorrupt(f"{name}: versão de formato {version} inválida")
    return version


def header_damage(data: bytes, magic: bytes, name: str, newest: int) -> Damage | None:
    """None if `data`'s header is ours; the damaged place if it is not, so that the frames
    after it can still be read. StoreCorrupt for a newer format, which is not damage (and a
    flipped bit in the version field cannot be told from it)."""
    try:
        check_header(data, magic, name, newest)
    except StoreCorrupt as exc:
        if "mais nova" in exc.reason:
            raise
        return Damage(name, 0, min(len(data), HEADER_SIZE), f"cabeçalho: {exc.reason}")
    return None


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
    return frames.frame(b"".join(parts))


_ONE_READING = struct.Struct("<qqddB")  # the columns of a single reading, as encode_batch lays them


def encode_one(meter_id: bytes, reading: Reading) -> bytes:
    """`encode_batch` of one reading without measurements, with no column built for it."""
    potencia = reading.potencia_w
    payload = b"".join((_KIND_AND_ID.pack(KIND_BATCH, len(meter_id)), meter_id, _U32.pack(1), _ONE_READING.pack(
        reading.seq, reading.ts_ms, reading.energia_wh, NAN if potencia is None else potencia,
        ESTIMADA if reading.estimada else 0)))
    return frames.FRAME.pack(len(payload), crc32(payload)) + payload


def encode_tombstone(meter_id: bytes) -> bytes:
    """A framed record saying: forget every earlier reading of this meter (the old format of a
    deletion; kept so that tests can write what earlier versions left on disk)."""
    return frames.frame(_KIND_AND_ID.pack(KIND_TOMBSTONE, len(meter_id)) + meter_id)


@dataclass(frozen=True, slots=True)
class LogScan:
    """What `gather` found: where the intact records end (before a torn tail), the damaged
    places, and the size of the torn tail."""

    end: int
    damages: tuple[Damage, ...] = ()
    torn: int = 0


def gather(buf: bytes, start: int, blocks: dict[str, "Accumulator"], on_tombstone: Callable[[str], None],
           name: str = "diário", tail_may_be_torn: bool = False) -> LogScan:
    """Add the readings of every intact record from `start` to `blocks` (per meter), calling
    `on_tombstone(meter_id)` at each tombstone. Damaged records are skipped and reported,
    the records after them still read (frames.py); with `tail_may_be_torn` (the active
    journal) an incomplete last record is a torn tail instead of damage.

    The one decoder of journal records, written for recovery speed: a journal of
    single-reading appends holds a million records, so this loop makes no object per record
    beyond the column views it copies straight into the meter's arrays."""
    view = memoryview(buf)
    size = len(buf)
    ids: dict[bytes, str] = {}
    unpack_frame, unpack_head, unpack_u32 = frames.FRAME.unpack_from, _KIND_AND_ID.unpack_from, _U32.unpack_from
    head_size = _KIND_AND_ID.size
    damages: list[Damage] = []
    torn = 0
    pos = start
    while pos < size:
        if pos + FRAME_SIZE <= size:
            length, crc = unpack_frame(buf, pos)
            body = pos + FRAME_SIZE
            end = body + length
            if 0 < length <= MAX_RECORD_BYTES and end <= size and crc32(view[body:end]) == crc:
                try:
                    kind, id_len = unpack_head(buf, body)
                    at = body + head_size + id_len
                    if at > end:
                        raise StoreCorrupt("id de medidor além do registro")
                    raw_id = buf[body + head_size:at]
                    meter_id = ids.get(raw_id)
                    if meter_id is None:
                        meter_id = ids[raw_id] = raw_id.decode("utf-8")
                    if kind == KIND_BATCH:
                        (n,) = unpack_u32(buf, at)
                        at += _U32.size
                        columns_end = at + _BYTES_PER_READING * n
                        if n == 0 or columns_end > end:
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
                    pos = end
                    continue
                except (struct.error, UnicodeDecodeError, StoreCorrupt):
                    pass  # intact frame, undecodable payload: damage like any other
        resume, torn = frames.step_past(buf, pos, name, journal_plausible, describe_record,
                                        record_torn if tail_may_be_torn else None, damages)
        if resume is None:
            break
        pos = resume
    return LogScan(size - torn, tuple(damages), torn)


def keyed_head(buf: bytes, body: int, end: int, tombstone_kind: int) -> tuple[int, int] | None:
    """(kind, where the key ends) of a payload that starts like every journal record and
    segment entry (u8 kind, u16 key length, key), or None if it cannot be one. A tombstone
    holds the key alone."""
    if end - body < _KIND_AND_ID.size:
        return None
    kind, id_len = _KIND_AND_ID.unpack_from(buf, body)
    at = body + _KIND_AND_ID.size + id_len
    if not 1 <= id_len <= MAX_METER_ID_BYTES or at > end or (kind == tombstone_kind and at != end):
        return None
    return kind, at


def journal_plausible(buf: bytes, body: int, end: int) -> bool:
    """Whether a journal record could start at `body` and end at `end` (frames.Plausible)."""
    head = keyed_head(buf, body, end, KIND_TOMBSTONE)
    if head is None or head[0] == KIND_TOMBSTONE:
        return head is not None
    kind, at = head
    if kind != KIND_BATCH or at + _U32.size > end:
        return False
    (n,) = _U32.unpack_from(buf, at)
    return 1 <= n <= MAX_READINGS_PER_RECORD and at + _U32.size + _BYTES_PER_READING * n <= end


def check_record(payload: memoryview) -> None:
    """StoreCorrupt unless `gather` would read this payload (it decides, so they agree)."""
    scan = gather(frames.frame(bytes(payload)), 0, {}, lambda _meter: None)
    if scan.damages or scan.torn:
        raise StoreCorrupt("registro ilegível")


def record_torn(buf: bytes, pos: int) -> bool:
    """Whether the bad bytes from `pos` to the end are a record cut by a crash (frames.TornTail).

    A cut record is a prefix of a whole one: its frame says it runs past the end of the file,
    and so do its own fields (meter id, count, measurement sizes). One flipped bit cannot make
    both say so: a damaged length in a complete last record leaves the fields agreeing with
    the file, and a damaged field leaves the length agreeing with it. Zeros, which some file
    systems leave where an unsynced append was, are torn too."""
    size = len(buf)
    if frames.all_zero(buf, pos) or pos + FRAME_SIZE > size:
        return True
    length, _ = frames.FRAME.unpack_from(buf, pos)
    if pos + FRAME_SIZE + length <= size:
        return False  # complete, yet it failed its check
    extent = _record_extent(buf, pos + FRAME_SIZE)
    return extent is None or extent > size


def _record_extent(buf: bytes, body: int) -> int | None:
    """Where a record's own fields say it ends (possibly past the buffer), or None if the
    bytes present do not say."""
    size = len(buf)
    if body + _KIND_AND_ID.size > size:
        return None
    kind, id_len = _KIND_AND_ID.unpack_from(buf, body)
    at = body + _KIND_AND_ID.size + id_len
    if kind == KIND_TOMBSTONE:
        return at
    if kind != KIND_BATCH or at + _U32.size > size:
        return None
    (n,) = _U32.unpack_from(buf, at)
    flags_at = at + _U32.size + 32 * n
    extent = flags_at + n
    if extent > size:
        return extent
    for flag in buf[flags_at:flags_at + n]:
        if flag & HAS_MEDIDAS:
            if extent + _U32.size > size:
                return extent + _U32.size
            extent += _U32.size + _U32.unpack_from(buf, extent)[0]
    return extent


def describe_record(buf: bytes, pos: int) -> str:
    """A guess, from the damaged record's own header, at what it held (frames.Describe)."""
    body = pos + FRAME_SIZE
    try:
        kind, id_len = _KIND_AND_ID.unpack_from(buf, body)
        at = body + _KIND_AND_ID.size + id_len
        if 1 <= id_len <= MAX_METER_ID_BYTES and at <= len(buf):
            meter = buf[body + _KIND_AND_ID.size:at].decode("utf-8")
            if kind == KIND_TOMBSTONE:
                return f"provavelmente a remoção das leituras do medidor {meter!r}"
            if kind == KIND_BATCH:
                (n,) = _U32.unpack_from(buf, at)
                if 1 <= n <= MAX_READINGS_PER_RECORD:
                    return f"provavelmente {n} leitura(s) do medidor {meter!r}"
    except (struct.error, UnicodeDecodeError):
        pass
    return "conteúdo ilegível"


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
