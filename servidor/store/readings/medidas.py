"""The compact byte form of a reading's extra measurements (`Reading.medidas`).

A reading of a Tesla analyzer carries a dozen codes with up to 4 values each; as Python
tuples that is ~1 KB, as this blob ~150 bytes. Pure functions, no I/O.
"""
from __future__ import annotations

import struct

from shared.models import Measurement

from .errors import StoreCorrupt

# Code numbers as written on disk: append-only, never reorder (a position is a stored value).
_CODES = ("TPF", "IPF", "FRE", "PAF", "PAT", "PAP", "PRT", "FPT", "THDV", "THDI", "CEA", "CER")
_CODE_INDEX = {code: i for i, code in enumerate(_CODES)}
# A code added to shared.models after this list was written is stored by name after this byte.
_INLINE_CODE = 255
# One count byte: a tuple holds at most this many values (the model allows 4 phases).
_MAX_VALUES = 254
_F64 = struct.Struct("<d")


def encode_medidas(medidas: tuple[tuple[str, Measurement], ...]) -> bytes:
    """`count, then per entry: code byte (or 255, length, name), arity byte (0 = a scalar,
    k + 1 = a tuple of k), little-endian doubles`."""
    out = bytearray((len(medidas),))
    for code, value in medidas:
        index = _CODE_INDEX.get(code)
        if index is None:
            name = code.encode()
            out += bytes((_INLINE_CODE, len(name))) + name
        else:
            out.append(index)
        if isinstance(value, tuple):
            if len(value) > _MAX_VALUES:
                raise ValueError(f"{code}: no máximo {_MAX_VALUES} valores por medida")
            out.append(len(value) + 1)
            out += struct.pack(f"<{len(value)}d", *value)
        else:
            out.append(0)
            out += _F64.pack(value)
    return bytes(out)


def decode_medidas(blob: bytes) -> tuple[tuple[str, Measurement], ...]:
    """Inverse of `encode_medidas`; raises StoreCorrupt on a blob that does not parse."""
    try:
        count = blob[0]
        pos = 1
        out = []
        for _ in range(count):
            index = blob[pos]
            pos += 1
            if index == _INLINE_CODE:
                size = blob[pos]
                code = bytes(blob[pos + 1:pos + 1 + size]).decode()
                pos += 1 + size
            else:
                code = _CODES[index]
            arity = blob[pos]
            pos += 1
            if arity == 0:
                value: Measurement = _F64.unpack_from(blob, pos)[0]
                pos += 8
            else:
                value = struct.unpack_from(f"<{arity - 1}d", blob, pos)
                pos += 8 * (arity - 1)
            out.append((code, value))
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise StoreCorrupt(f"medidas ilegíveis: {exc}") from None
    if pos != len(blob):
        raise StoreCorrupt("medidas ilegíveis: bytes sobrando")
    return tuple(out)
