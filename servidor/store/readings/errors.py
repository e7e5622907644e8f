"""The readings store's exception root; the API turns it into an answer once, at the edge."""
from __future__ import annotations


class ReadingStoreError(Exception):
    """Any failure of the readings store: closed store, full disk, failed fsync, bad files."""


class StoreCorrupt(ReadingStoreError):
    """A store file that cannot be read: wrong magic, bad checksum, truncated segment, or a
    format version newer than this program's (the message then says "mais nova")."""


class StoreLocked(ReadingStoreError):
    """Another process already has this store directory open."""


class InvalidMeterId(ReadingStoreError, ValueError):
    """A meter id that cannot be stored (empty, or longer than the record format allows)."""
