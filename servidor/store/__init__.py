"""The server's storage: documents (meters, tariffs, alerts, invoices) in TinyDB, readings in a journal.

Every failure is a `StoreError`; lack of space or descriptors is `StorageFull` /
`StorageUnavailable`, after which the stores work again once the cause is gone."""
from .errors import StorageFull, StorageUnavailable, StoreError

__all__ = ["StorageFull", "StorageUnavailable", "StoreError"]
