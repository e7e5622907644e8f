"""A batch of plain readings validated column by column, at C speed, into the store's columns.

An agent's batch is up to 1,000 objects of the same four fields (seq, ts, energia_wh, potencia_w).
Checking each through `Reading.from_json` costs a few µs of interpreted code per reading; here
each field is gathered once for the whole batch and checked with set, min, max and sum over it,
and the values go straight into the arrays the store keeps (no Reading object each). Only a
batch that passes every check takes this path, and it accepts exactly what `Reading.from_json`
accepts: any other batch (another field, a missing one, a ts as text, a value out of range)
returns None and goes through the per-reading path, which words each reason.
"""
from __future__ import annotations

from array import array
from typing import Any

from servidor.store.readings.block import NAN, ColumnBatch, Columns
from shared.models import EARLIEST_TS_MS, MAX_COUNTER_WH, MAX_FUTURE_SKEW_MS, MAX_POWER_W

_INTS = {int}
_NUMBERS = ({int}, {float}, {int, float})  # exact types: a bool is neither
MAX_SEQ = 2**63 - 1
MAX_TS = 2**53 - 1


def plain_batch(items: list[Any], now_ms: int) -> ColumnBatch | None:
    """`items` as columns, in their order, when every one is a valid reading of exactly the
    fields seq, ts (epoch ms), energia_wh and, in all or none, potencia_w; None otherwise."""
    n = len(items)
    try:
        seqs = [item["seq"] for item in items]
        ts = [item["ts"] for item in items]
        energia = [item["energia_wh"] for item in items]
        try:
            potencia = [item["potencia_w"] for item in items]
        except KeyError:
            potencia = None
    except (KeyError, TypeError):  # not an object, or a field missing
        return None
    fields = 3 if potencia is None else 4
    # Every item holds the fields read above; the same total of keys means none holds another.
    if sum(map(len, items)) != fields * n or set(map(type, seqs)) != _INTS or set(map(type, ts)) != _INTS \
            or set(map(type, energia)) not in _NUMBERS or (potencia is not None and set(map(type, potencia)) not in _NUMBERS):
        return None
    if not (min(seqs) >= 0 and max(seqs) <= MAX_SEQ and min(ts) >= EARLIEST_TS_MS
            and max(ts) <= min(MAX_TS, now_ms + MAX_FUTURE_SKEW_MS)):
        return None
    try:
        energy = array("d", energia)
        power = array("d", potencia) if potencia is not None else array("d", (NAN,)) * n
    except OverflowError:  # an integer too large for a double
        return None
    # min and max skip a NaN that is not first; a sum of values within these bounds is NaN only
    # if one of them is.
    total = sum(energy)
    if not (min(energy) >= 0.0 and max(energy) <= MAX_COUNTER_WH and total == total):
        return None
    if potencia is not None:
        total = sum(power)
        if not (min(power) >= -MAX_POWER_W and max(power) <= MAX_POWER_W and total == total):
            return None
    return ColumnBatch(Columns(array("q", seqs), array("q", ts), energy, power, array("B", bytes(n))))
