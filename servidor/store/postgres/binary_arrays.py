"""Typed arrays (`array.array`) sent to PostgreSQL as binary arrays, built without a Python loop.

A batch of 1,000 readings is five columns of numbers. psycopg adapts a list element by element,
and numbers as text cost the server the shortest repr of every float and the database the parsing
of it back (bench/postgres_http.py). PostgreSQL's binary array format (array_send) is a header
then, per element, a 4-byte length and the big-endian value: for fixed-width elements that is a
strided interleave, done here by C-level slice assignments on a bytearray.

    conn.execute("SELECT sum(x) FROM unnest(%b) AS x", (Float8Array(array("d", ...)),))
"""
from __future__ import annotations

import struct
import sys
from array import array

from psycopg import adapters
from psycopg.adapt import Dumper
from psycopg.pq import Format

# (array type oid, element type oid, element width in bytes): pg_type's int2, int8 and float8.
_INT2 = (1005, 21, 2)
_INT8 = (1016, 20, 8)
_FLOAT8 = (1022, 701, 8)


def pack(values: array, kind: tuple[int, int, int]) -> bytes:
    """`values` (typecode of the element's width) in PostgreSQL's binary array format."""
    _, element_oid, width = kind
    if values.itemsize != width:
        raise TypeError(f"array de {values.itemsize} bytes por item, o tipo pede {width}")
    n = len(values)
    if not n:
        return struct.pack(">iiI", 0, 0, element_oid)
    if sys.byteorder == "little":
        values = array(values.typecode, values)
        values.byteswap()
    raw = values.tobytes()
    stride = 4 + width
    body = bytearray(n * stride)   # every length's three high bytes stay zero
    body[3::stride] = bytes((width,)) * n
    for k in range(width):
        body[4 + k::stride] = raw[k::width]
    return struct.pack(">iiIii", 1, 0, element_oid, n, 1) + body


class _Packed:
    """One column to send; the subclass says its PostgreSQL type."""

    __slots__ = ("values",)
    kind: tuple[int, int, int]

    def __init__(self, values: array) -> None:
        self.values = values


class Int2Array(_Packed):
    kind = _INT2


class Int8Array(_Packed):
    kind = _INT8


class Float8Array(_Packed):
    kind = _FLOAT8


def _dumper(packed: type[_Packed]) -> type[Dumper]:
    class PackedDumper(Dumper):
        format = Format.BINARY
        oid = packed.kind[0]

        def dump(self, obj: _Packed) -> bytes:
            return pack(obj.values, obj.kind)

    PackedDumper.__name__ = f"{packed.__name__}Dumper"
    return PackedDumper


for _type in (Int2Array, Int8Array, Float8Array):
    adapters.register_dumper(_type, _dumper(_type))
