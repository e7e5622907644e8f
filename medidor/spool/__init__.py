"""The agent's durable outbox (see spool.py for the guarantees).

Layout of a spool directory:

* ``NNNNNNNNNNNN.seg`` — append-only segment files of records (records.py).
* ``confirmado.dat`` — how far the server acknowledged, overwritten in place (cursor.py).
* ``trava`` — held by the one process using the spool (layout.py).

`medidor reparar` (repair.py) rewrites a damaged spool keeping every intact record.
"""
from .errors import REPAIR_COMMAND, Damage, DamageReport, SpoolDamaged, SpoolError, SpoolFull
from .records import MAX_RECORD_BYTES, SpoolRecord
from .spool import MAX_RECORDS, SEGMENT_BYTES, WARN_RATIO, Spool

__all__ = [
    "Damage",
    "DamageReport",
    "MAX_RECORDS",
    "MAX_RECORD_BYTES",
    "REPAIR_COMMAND",
    "SEGMENT_BYTES",
    "Spool",
    "SpoolDamaged",
    "SpoolError",
    "SpoolFull",
    "SpoolRecord",
    "WARN_RATIO",
]
