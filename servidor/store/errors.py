"""The store layer's typed failures, as the helpers' contract 4 names them.

Stand-in written by the domain/API side so that it can map these to 503 before the store's own
module lands; the store's implementation replaces this file (same names, same root).
"""
from __future__ import annotations


class StoreError(Exception):
    """A store operation that could not be done; `reason` says why, in pt-BR, without paths."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StorageFull(StoreError):
    """No space (ENOSPC/EDQUOT) or no descriptors left; retrying after space returns works."""


class StorageUnavailable(StoreError):
    """The storage cannot be used for now (an I/O error, a closed store)."""


class StreamDeleted(StoreError):
    """An append to a readings stream that was deleted: nothing was stored."""
