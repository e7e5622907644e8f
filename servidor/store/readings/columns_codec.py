"""A meter's readings as compressed columns: the content of a segment chunk. Pure functions.

A 10-s meter's readings are very regular: seq rises by 1, ts by 10 000, the counter by a few
Wh. Stored as deltas in the narrowest integer that holds them, with the bytes of each value
split into planes (all first bytes, then all second bytes, ...) the columns become long runs
that the compressor squeezes to a few bytes per reading.

Columns body: the columns seq, ts (integer), energia, potencia (float), flags (raw bytes),
medidas (a presence byte, then sizes and blobs).
"""
from __future__ import annotations

import lzma
import struct
import zlib
from array import array
from itertools import accumulate
from operator import sub
from typing import Iterator

from .block import Columns
from .codec import extend_le, le_bytes
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

_INT_HEAD = struct.Struct("<qB")  # first value, bytes per delta
_U8 = struct.Struct("<B")

# Signed array type code per item size, and the unsigned 32-bit one (C int sizes vary).
_TYPECODE_BY_SIZE = {1: "b", 2: "h", 4: next(c for c in "il" if array(c).itemsize == 4), 8: "q"}
_U32_CODE = next(c for c in "IL" if array(c).itemsize == 4)


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


def encode_columns(cols: Columns, out: list[bytes]) -> None:
    """Append the columns body of `cols` (at least one reading) to `out`."""
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


def decode_columns(body: memoryview, pos: int, n: int) -> tuple[Columns, int]:
    """The `n` readings whose columns body starts at `pos`, and where the body ends.
    IndexError, struct.error, KeyError or StoreCorrupt on bytes that do not decode."""
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
    if len(flags) != n or pos > len(body) or any(len(c) != n for c in columns):
        raise StoreCorrupt("colunas truncadas")
    return Columns(*columns, flags, medidas), pos


def compress(body: bytes, compression: int) -> bytes:
    if compression == COMPRESS_LZMA:
        return lzma.compress(body, preset=_LZMA_PRESET)
    return zlib.compress(body, _ZLIB_LEVEL)


def decompress(packed: bytes | memoryview, compression: int) -> bytes:
    """StoreCorrupt for an unknown method or bytes that do not decompress."""
    try:
        if compression == COMPRESS_LZMA:
            return lzma.decompress(packed)
        if compression == COMPRESS_ZLIB:
            return zlib.decompress(packed)
    except (lzma.LZMAError, zlib.error) as exc:
        raise StoreCorrupt(f"compressão ilegível: {exc}") from None
    raise StoreCorrupt(f"compressão {compression} desconhecida")
