"""Byte format of a segment: a closed journal's readings as compressed columns. Pure functions.

Version 2 (written now): header | frames (frames.py). A frame holds one chunk of at most
CHUNK_READINGS readings of one meter, compressed on its own (columns_codec.py), or a legacy
tombstone. A flipped bit thus costs one chunk, found and reported by its CRC, and the reader
resynchronises on the next frame instead of losing the whole segment.

Frame payload: u8 kind | u16 id length | id | for a chunk: u8 compression | u32 readings |
u32 columns body length | compressed columns body.

Version 1 (read only): header | u8 compression | u32 CRC-32 of the compressed body | u64 body
length | one compressed body: u32 meters, then per meter u16 id length, id, u8 tombstone,
u32 n and, when n > 0, its columns body. Any damage there loses the whole file.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from . import frames
from .block import Columns
from .codec import (
    HEADER_SIZE,
    MAX_METER_ID_BYTES,
    SEGMENT_MAGIC,
    SEGMENT_VERSION,
    check_header,
    file_header,
    header_damage,
    keyed_head,
)
from .columns_codec import (
    COMPRESS_LZMA,
    COMPRESS_ZLIB,
    DEFAULT_COMPRESSION,
    compress,
    decode_columns,
    decompress,
    encode_columns,
)
from .errors import Damage, StoreCorrupt, StoreDamaged

__all__ = ["COMPRESS_LZMA", "COMPRESS_ZLIB", "CHUNK_READINGS", "SegmentMeter", "SegmentScan", "decode_segment",
           "encode_segment", "scan_segment"]

# Readings per chunk: what one flipped bit can cost (about 11 hours of a 10-s meter). zlib's
# window is 32 KiB, so chunks this size (~130 KiB of raw columns) compress as well as one body.
CHUNK_READINGS = 4096

KIND_CHUNK = 1
KIND_TOMBSTONE = 2
_KIND_AND_ID = struct.Struct("<BH")
_CHUNK_HEAD = struct.Struct("<BII")  # compression, readings, columns body length
_V1_TAIL = struct.Struct("<BIQ")  # compression, CRC-32 of the compressed body, body length
_V1_METER_HEAD = struct.Struct("<H")
_V1_METER_TAIL = struct.Struct("<BI")  # tombstone, readings
_U32 = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class SegmentMeter:
    """One meter's entry in a segment: readings in (ts, seq) order, and whether the meter was
    deleted before them the old way (earlier files' readings of this id are then void)."""

    meter_id: str
    tombstone: bool
    columns: Columns


@dataclass(frozen=True, slots=True)
class SegmentScan:
    """A segment as read: its entries in file order (a meter's readings may span several), the
    (start, end) bytes of each entry in a version-2 file, and the damaged places."""

    version: int
    meters: tuple[SegmentMeter, ...]
    spans: tuple[tuple[int, int], ...]
    damages: tuple[Damage, ...]


def encode_segment(meters: list[SegmentMeter], compression: int = DEFAULT_COMPRESSION) -> bytes:
    """The whole (version 2) segment file for `meters`, each meter's columns in (ts, seq) order."""
    parts = [file_header(SEGMENT_MAGIC, SEGMENT_VERSION)]
    for meter in meters:
        raw_id = meter.meter_id.encode("utf-8")
        head = _KIND_AND_ID.pack(KIND_TOMBSTONE, len(raw_id)) + raw_id
        if meter.tombstone:
            parts.append(frames.frame(head))
        cols = meter.columns
        for start in range(0, len(cols), CHUNK_READINGS):
            chunk = cols if len(cols) <= CHUNK_READINGS else cols.slice(start, start + CHUNK_READINGS)
            body: list[bytes] = []
            encode_columns(chunk, body)
            raw = b"".join(body)
            parts.append(frames.frame(b"".join((
                _KIND_AND_ID.pack(KIND_CHUNK, len(raw_id)), raw_id,
                _CHUNK_HEAD.pack(compression, len(chunk), len(raw)), compress(raw, compression)))))
    return b"".join(parts)


def _plausible(buf: bytes, body: int, end: int) -> bool:
    head = keyed_head(buf, body, end, KIND_TOMBSTONE)
    if head is None or head[0] == KIND_TOMBSTONE:
        return head is not None
    kind, at = head
    if kind != KIND_CHUNK or at + _CHUNK_HEAD.size > end:
        return False
    compression, n, _ = _CHUNK_HEAD.unpack_from(buf, at)
    return compression in (COMPRESS_ZLIB, COMPRESS_LZMA) and 1 <= n <= CHUNK_READINGS


def _decode_entry(payload: memoryview) -> SegmentMeter:
    kind, id_len = _KIND_AND_ID.unpack_from(payload, 0)
    at = _KIND_AND_ID.size + id_len
    meter_id = bytes(payload[_KIND_AND_ID.size:at]).decode("utf-8")
    if kind == KIND_TOMBSTONE and at == len(payload):
        return SegmentMeter(meter_id, True, Columns.empty())
    if kind != KIND_CHUNK:
        raise StoreCorrupt(f"trecho de tipo {kind} desconhecido")
    compression, n, size = _CHUNK_HEAD.unpack_from(payload, at)
    body = decompress(payload[at + _CHUNK_HEAD.size:], compression)
    if len(body) != size:
        raise StoreCorrupt("tamanho do trecho não confere")
    cols, end = decode_columns(memoryview(body), 0, n)
    if end != size:
        raise StoreCorrupt("bytes sobrando no trecho")
    return SegmentMeter(meter_id, False, cols)


def _describe(buf: bytes, pos: int) -> str:
    body = pos + frames.FRAME_SIZE
    try:
        kind, id_len = _KIND_AND_ID.unpack_from(buf, body)
        at = body + _KIND_AND_ID.size + id_len
        meter = buf[body + _KIND_AND_ID.size:at].decode("utf-8")
        if 1 <= id_len <= MAX_METER_ID_BYTES and kind == KIND_TOMBSTONE:
            return f"provavelmente a remoção das leituras do medidor {meter!r}"
        if 1 <= id_len <= MAX_METER_ID_BYTES and kind == KIND_CHUNK:
            _, n, _ = _CHUNK_HEAD.unpack_from(buf, at)
            if 1 <= n <= CHUNK_READINGS:
                return f"provavelmente {n} leitura(s) do medidor {meter!r}"
    except (struct.error, UnicodeDecodeError):
        pass
    return "conteúdo ilegível"


def scan_segment(data: bytes, name: str = "segmento") -> SegmentScan:
    """Every intact entry of a segment file and every damaged place. StoreCorrupt only for a
    format newer than this program's; a damaged header is a damaged place like any other."""
    damaged_header = header_damage(data, SEGMENT_MAGIC, name, SEGMENT_VERSION)
    header = () if damaged_header is None else (damaged_header,)
    if damaged_header is None:
        version = check_header(data, SEGMENT_MAGIC, name, SEGMENT_VERSION)
    else:
        # A version-1 file is one compressed body right after the header, whose CRC matches;
        # anything else is read as frames.
        version = 1 if _v1_crc_matches(data) else SEGMENT_VERSION
    if version == 1:
        try:
            meters = _decode_v1(data, name)
        except StoreCorrupt as exc:
            lost = f"o segmento inteiro: formato antigo, de um bloco só ({exc.reason})"
            damage = Damage(name, HEADER_SIZE, max(len(data) - HEADER_SIZE, 0), lost)
            return SegmentScan(1, (), (), (*header, damage))
        return SegmentScan(1, tuple(meters), (), header)
    scan = frames.scan_frames(data, HEADER_SIZE, name, _plausible, _decode_entry, _describe)
    return SegmentScan(SEGMENT_VERSION, scan.values, scan.spans, (*header, *scan.damages))


def decode_segment(data: bytes, name: str = "segmento") -> list[SegmentMeter]:
    """The entries of an undamaged segment; StoreDamaged (naming `name`) otherwise."""
    scan = scan_segment(data, name)
    if scan.damages:
        raise StoreDamaged(list(scan.damages))
    return list(scan.meters)


def _v1_crc_matches(data: bytes) -> bool:
    try:
        compression, crc, _ = _V1_TAIL.unpack_from(data, HEADER_SIZE)
    except struct.error:
        return False
    return compression in (COMPRESS_ZLIB, COMPRESS_LZMA) and \
        zlib.crc32(memoryview(data)[HEADER_SIZE + _V1_TAIL.size:]) == crc


def _decode_v1(data: bytes, name: str) -> list[SegmentMeter]:
    try:
        compression, crc, size = _V1_TAIL.unpack_from(data, HEADER_SIZE)
    except struct.error:
        raise StoreCorrupt("segmento truncado") from None
    packed = memoryview(data)[HEADER_SIZE + _V1_TAIL.size:]
    if zlib.crc32(packed) != crc:
        raise StoreCorrupt("soma de verificação do segmento não confere")
    body = decompress(packed, compression)
    if len(body) != size:
        raise StoreCorrupt("tamanho do segmento não confere")
    view = memoryview(body)
    try:
        (count,) = _U32.unpack_from(view, 0)
        pos = _U32.size
        meters = []
        for _ in range(count):
            (id_len,) = _V1_METER_HEAD.unpack_from(view, pos)
            pos += _V1_METER_HEAD.size
            meter_id = bytes(view[pos:pos + id_len]).decode("utf-8")
            tombstone, n = _V1_METER_TAIL.unpack_from(view, pos + id_len)
            pos += id_len + _V1_METER_TAIL.size
            cols = Columns.empty()
            if n:
                cols, pos = decode_columns(view, pos, n)
            meters.append(SegmentMeter(meter_id, bool(tombstone), cols))
    except (struct.error, IndexError, KeyError, UnicodeDecodeError, ValueError) as exc:
        raise StoreCorrupt(f"segmento ilegível: {exc}") from None
    if pos != len(body):
        raise StoreCorrupt("bytes sobrando no segmento")
    return meters


def encode_segment_v1(meters: list[SegmentMeter], compression: int = DEFAULT_COMPRESSION) -> bytes:
    """A version-1 segment, as earlier versions wrote it: for tests of reading old stores."""
    parts: list[bytes] = [_U32.pack(len(meters))]
    for meter in meters:
        raw_id = meter.meter_id.encode("utf-8")
        parts += [_V1_METER_HEAD.pack(len(raw_id)), raw_id, _V1_METER_TAIL.pack(meter.tombstone, len(meter.columns))]
        if len(meter.columns):
            encode_columns(meter.columns, parts)
    body = b"".join(parts)
    packed = compress(body, compression)
    return file_header(SEGMENT_MAGIC, 1) + _V1_TAIL.pack(compression, zlib.crc32(packed), len(body)) + packed
