"""How long a server trusts what it cached of documents that other servers share.

On one database several servers change the same documents; each keeps what it reads often
(meters, keys, tariffs, sites) in memory and reads it again once it is SHARED_RECHECK_S old
(servidor.domain.keys), so a change made through another server shows within that. On a
document store of its own (`shared` False) a server's cache is always what is stored.
"""
from __future__ import annotations

import time
from typing import Any

from servidor.domain import keys as key_ring


def is_shared(docs: Any) -> bool:
    """Whether other servers may change these documents (several servers on one database)."""
    return bool(getattr(docs, "shared", False))


class Freshness:
    """When a cache of shared documents was last read; `due` once it is SHARED_RECHECK_S old."""

    def __init__(self, docs: Any) -> None:
        self.shared = is_shared(docs)
        self._read_at = time.monotonic()

    def due(self) -> bool:
        return self.shared and time.monotonic() - self._read_at >= key_ring.SHARED_RECHECK_S

    def read(self) -> None:
        self._read_at = time.monotonic()
