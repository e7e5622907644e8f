"""The server's durable readings store: an fsynced journal compacted into columnar segments,
with consumption rollups (15-minute buckets, local days) kept on ingest."""
from .errors import (
    Damage,
    InvalidMeterId,
    ReadingStoreError,
    StoreCorrupt,
    StoreDamaged,
    StoreLocked,
    StreamDeleted,
)
from .flows import MONOTONIC, FlowPolicy
from .rollups import BUCKET_MS, MAX_COVERED_GAP_MS
from .store import AppendResult, ReadingStore

__all__ = [
    "AppendResult",
    "BUCKET_MS",
    "FlowPolicy",
    "MONOTONIC",
    "Damage",
    "InvalidMeterId",
    "MAX_COVERED_GAP_MS",
    "ReadingStore",
    "ReadingStoreError",
    "StoreCorrupt",
    "StoreDamaged",
    "StoreLocked",
    "StreamDeleted",
]
