"""Byte format of a segment: a closed journal's readings as compressed, per-meter columns.

A 10-s meter's readings are very regular: seq rises by 1, ts by 10 000, the counter by a few
Wh. Stored as deltas in the narrowest integer that holds them, with the bytes of each value
split into planes (all first bytes, then all second bytes, ...) the columns become long runs
that the compressor squeezes to a few bytes per reading. Pure functions, no I/O.

File: header (magic, version) | u8 compression | u32 CRC-32 of the compressed body | u64 body
length | compressed body. Body: u32 meters, then per meter: u16 id length, id, u8 tombstone,
u32 n and, when n > 0, the columns seq, ts (integer), energia, potencia (float), flags (raw
bytes), medidas.
"""
from __future__ import annotations

import lzma
import struct
import zlib
from array import array
from dataclasses import dataclass
from itertools import accumulate
from operator import sub
from typing import Iterator

from .block import Columns
from .codec import HEADER_SIZE, SEGMENT_MAGIC, check_header, extend_le, file_header, le_bytes
from .errors import StoreCorrupt

COMPRESS_ZLIB = 1
COMPRESS_LZMA = 2
# Measured on 10-s meter columns after delta + byte planes: LZMA saves only 1-4% over zlib
# and takes 2-4x the time, so zlib is the default; LZMA segments are still readable.
DEFAULT_COMPRESSION = COMPRESS_ZLIB
_ZLIB_LEVEL = 6  # level 9 gained < 1% and was up to 3x slower on repetitive columns
_LZMA_PRESET = 6

# Float columns are tried as decimals with up to this many places (meters report at most
# milli-Wh and milli-W); beyond that the binary value is noise and the raw planes are smaller.
MAX_DECIMALS = 6

_INT_DELTA = 1
_FLOAT_SCALED = 2
_FLOAT_RAW = 3
_FLOAT_ALL_NAN = 4

_TAIL = struct.Struct("<BIQ")  # compression, CRC-32 of the compressed body, body length
_METER_HEAD = struct.Struct("<H")
_METER_TAIL = struct.Struct("<BI")  # tombstone, readings
_INT_HEAD = struct.Struct("<qB")  # first value, bytes per delta
_U8 = struct.Struct("<B")
_U32 = struct.Struct("<I")

# Signed array type code per item size, and the unsigned 32-bit one (C int sizes vary).
_TYPECODE_BY_SIZE = {1: "b", 2: "h", 4: next(c for c in "il" if array(c).itemsize == 4), 8: "q"}
_U32_CODE = next(c for c in "IL" if array(c).itemsize == 4)


@dataclass(frozen=True, slots=True)
class SegmentMeter:
    """One meter's part of a segment: its readings in (ts, seq) order, and whether the meter was
    deleted before them (earlier segments' readings of this id are then void)."""

    meter_id: str
    tombstone: bool
    columns: Columns


def _shuffle(raw: bytes, width: int) -> bytes:
    """Byte planes: every value's first byte, then every second byte... (C-speed slicing)."""
    if width == 1:
        return raw
    return b"".join(raw[i::width] for i in range(width))


def _unshuffle(data: memoryview, width: int, n: int) -> bytes | bytearray | memoryview:
    if width == 1:
        return data
    out = bytearray(n * width)
    for i in range(width):
        out[i::width] = data[i * n:(i + 1) * n]
    return out


def _encode_ints(values, out: list[bytes]) -> None:
    """Delta from the previous value, in the narrowest signed width that holds every delta."""
    deltas = list(map(sub, values[1:], values[:-1]))
    lo, hi = (min(deltas), max(deltas)) if deltas else (0, 0)
    for size in (1, 2, 4, 8):
        limit = 1 << (8 * size - 1)
        if -limit <= lo and hi < limit:
            break
    else:
        raise OverflowError("delta fora de 64 bits")
    out.append(_INT_HEAD.pack(values[0], size))
    out.append(_shuffle(le_bytes(array(_TYPECODE_BY_SIZE[size], deltas)), size))


def _decode_ints(body: memoryview, pos: int, n: int) -> tuple[Iterator[int], int]:
    base, size = _INT_HEAD.unpack_from(body, pos)
    pos += _INT_HEAD.size
    end = pos + size * (n - 1)
    deltas = array(_TYPECODE_BY_SIZE[size])
    extend_le(deltas, _unshuffle(body[pos:end], size, n - 1))
    return accumulate(deltas, initial=base), end


def _scaled(values: array) -> tuple[int, list[int]] | None:
    """(places, integers) such that integer / 10**places gives back each value bit for bit."""
    head = values[:16]
    for places in range(MAX_DECIMALS + 1):
        scale = 10 ** places
        factor = float(scale)
        try:
            if any(round(v * factor) / scale != v for v in head):
                continue
            ints = list(map(round, map(factor.__mul__, values)))
        except (ValueError, OverflowError):  # NaN or inf after scaling
            return None
        back = array("d", map(scale.__rtruediv__, ints))
        if back.tobytes() == values.tobytes():
            return places, ints
    return None


def _encode_floats(values: array, out: list[bytes]) -> None:
    if values[0] != values[0] and all(v != v for v in values):
        out.append(_U8.pack(_FLOAT_ALL_NAN))
        return
    found = _scaled(values)
    if found is not None:
        places, ints = found
        try:
            chunk: list[bytes] = []
            _encode_ints(ints, chunk)
        except (OverflowError, struct.error):
            pass
        else:
            out.append(struct.pack("<BB", _FLOAT_SCALED, places))
            out.extend(chunk)
            return
    out.append(_U8.pack(_FLOAT_RAW))
    out.append(_shuffle(le_bytes(values), 8))


def _decode_floats(body: memoryview, pos: int, n: int) -> tuple[array, int]:
    kind = body[pos]
    pos += 1
    if kind == _FLOAT_ALL_NAN:
        return array("d", [float("nan")]) * n, pos
    if kind == _FLOAT_SCALED:
        scale = 10 ** body[pos]
        ints, pos = _decode_ints(body, pos + 1, n)
        return array("d", map(scale.__rtruediv__, ints)), pos
    if kind == _FLOAT_RAW:
        out = array("d")
        extend_le(out, _unshuffle(body[pos:pos + 8 * n], 8, n))
        return out, pos + 8 * n
    raise StoreCorrupt(f"coluna de tipo {kind} desconhecida")


def _encode_meter(meter: SegmentMeter, out: list[bytes]) -> None:
    raw_id = meter.meter_id.encode("utf-8")
    cols = meter.columns
    n = len(cols)
    out += [_METER_HEAD.pack(len(raw_id)), raw_id, _METER_TAIL.pack(meter.tombstone, n)]
    if n == 0:
        return
    out.append(_U8.pack(_INT_DELTA))
    _encode_ints(cols.seq, out)
    out.append(_U8.pack(_INT_DELTA))
    _encode_ints(cols.ts, out)
    _encode_floats(cols.energia, out)
    _encode_floats(cols.potencia, out)
    out.append(cols.flags.tobytes())
    if cols.medidas is None:
        out.append(_U8.pack(0))
    else:
        sizes = array(_U32_CODE, [len(b) if b else 0 for b in cols.medidas])
        out += [_U8.pack(1), _shuffle(le_bytes(sizes), sizes.itemsize)]
        out += [b for b in cols.medidas if b]


def _decode_meter(body: memoryview, pos: int) -> tuple[SegmentMeter, int]:
    (id_len,) = _METER_HEAD.unpack_from(body, pos)
    pos += _METER_HEAD.size
    meter_id = bytes(body[pos:pos + id_len]).decode("utf-8")
    tombstone, n = _METER_TAIL.unpack_from(body, pos + id_len)
    pos += id_len + _METER_TAIL.size
    if n == 0:
        return SegmentMeter(meter_id, bool(tombstone), Columns.empty()), pos
    columns = []
    for _ in range(2):
        if body[pos] != _INT_DELTA:
            raise StoreCorrupt(f"coluna de tipo {body[pos]} desconhecida")
        ints, pos = _decode_ints(body, pos + 1, n)
        columns.append(array("q", ints))
    for _ in range(2):
        floats, pos = _decode_floats(body, pos, n)
        columns.append(floats)
    flags = array("B", body[pos:pos + n])
    pos += n
    medidas = None
    has_medidas = body[pos]
    pos += 1
    if has_medidas:
        sizes = array(_U32_CODE)
        width = sizes.itemsize
        extend_le(sizes, _unshuffle(body[pos:pos + width * n], width, n))
        pos += width * n
        medidas = []
        for size in sizes:
            if size:
                medidas.append(bytes(body[pos:pos + size]))
                pos += size
            else:
                medidas.append(None)
    if len(flags) != n or pos > len(body):
        raise StoreCorrupt("segmento truncado")
    return SegmentMeter(meter_id, bool(tombstone), Columns(*columns, flags, medidas)), pos


def encode_segment(meters: list[SegmentMeter], compression: int = DEFAULT_COMPRESSION) -> bytes:
    """The whole segment file for `meters` (each meter's columns in (ts, seq) order)."""
    parts: list[bytes] = [_U32.pack(len(meters))]
    for meter in meters:
        _encode_meter(meter, parts)
    body = b"".join(parts)
    if compression == COMPRESS_LZMA:
        packed = lzma.compress(body, preset=_LZMA_PRESET)
    else:
        packed = zlib.compress(body, _ZLIB_LEVEL)
    return file_header(SEGMENT_MAGIC) + _TAIL.pack(compression, zlib.crc32(packed), len(body)) + packed


def decode_segment(data: bytes, name: str = "segmento") -> list[SegmentMeter]:
    """Inverse of `encode_segment`; StoreCorrupt (naming `name`) on anything unreadable."""
    check_header(data, SEGMENT_MAGIC, name)
    try:
        compression, crc, size = _TAIL.unpack_from(data, HEADER_SIZE)
    except struct.error:
        raise StoreCorrupt(f"{name}: segmento truncado") from None
    packed = memoryview(data)[HEADER_SIZE + _TAIL.size:]
    if zlib.crc32(packed) != crc:
        raise StoreCorrupt(f"{name}: soma de verificação do segmento não confere")
    try:
        if compression == COMPRESS_LZMA:
            body = lzma.decompress(packed)
        elif compression == COMPRESS_ZLIB:
            body = zlib.decompress(packed)
        else:
            raise StoreCorrupt(f"{name}: compressão {compression} desconhecida")
    except (lzma.LZMAError, zlib.error) as exc:
        raise StoreCorrupt(f"{name}: segmento ilegível: {exc}") from None
    if len(body) != size:
        raise StoreCorrupt(f"{name}: tamanho do segmento não confere")
    view = memoryview(body)
    try:
        (count,) = _U32.unpack_from(view, 0)
        pos = _U32.size
        meters = []
        for _ in range(count):
            meter, pos = _decode_meter(view, pos)
            meters.append(meter)
    except (struct.error, IndexError, KeyError, UnicodeDecodeError, ValueError) as exc:
        raise StoreCorrupt(f"{name}: segmento ilegível: {exc}") from None
    if pos != len(body):
        raise StoreCorrupt(f"{name}: bytes sobrando no segmento")
    return meters
