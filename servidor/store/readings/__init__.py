"""The server's durable readings store: an fsynced journal compacted into columnar segments,
with consumption rollups (15-minute buckets, local days) kept on ingest."""
from .errors import InvalidMeterId, ReadingStoreError, StoreCorrupt, StoreLocked
from .rollups import BUCKET_MS, MAX_COVERED_GAP_MS
from .store import AppendResult, ReadingStore

__all__ = [
    "AppendResult",
    "BUCKET_MS",
    "InvalidMeterId",
    "MAX_COVERED_GAP_MS",
    "ReadingStore",
    "ReadingStoreError",
    "StoreCorrupt",
    "StoreLocked",
]
