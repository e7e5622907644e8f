"""The memory budget for request bytes: every connection's buffered and announced body bytes.

A connection's charge is what its parser holds plus what the request being read has announced
(Content-Length, chunk sizes), so a client declaring 4 MiB pays for 4 MiB before sending it;
the charge of a request being answered stays until its answer is written, and all of it goes
when the connection closes. A charge that would take the total past the budget, or one client
past its share, is refused: the server answers 503 with Retry-After and closes.
"""
from __future__ import annotations

import threading

from .clients import Client
from .errors import MemoryBudgetExceeded
from .limits import ServerLimits

# How long a refused client should wait: bodies in flight are answered within a few hundred ms
# normally, and a stalled one is cut off by Limits.read_timeout, so a few seconds frees room.
RETRY_AFTER_S = 5


class MemoryBudget:
    def __init__(self, limits: ServerLimits) -> None:
        self._total = limits.body_memory
        self._per_client = limits.body_memory_per_client
        self._lock = threading.Lock()
        self._held = 0

    @property
    def held(self) -> int:
        """Bytes charged now, over every connection."""
        return self._held

    def charge(self, client: Client, old: int, new: int) -> int:
        """Move one connection's charge from `old` to `new` bytes; returns `new`.

        Raises MemoryBudgetExceeded (and changes nothing) when growing it would pass the
        budget or the client's share. Shrinking always succeeds.
        """
        delta = new - old
        if not delta:
            return new
        with self._lock:
            if delta > 0:
                if self._total and self._held + delta > self._total:
                    raise MemoryBudgetExceeded(
                        "o servidor está com memória demais ocupada por corpos de requisição; tente de novo em instantes",
                        RETRY_AFTER_S)
                if self._per_client and client.held + delta > self._per_client:
                    raise MemoryBudgetExceeded(
                        "este endereço já tem corpos de requisição demais em andamento; tente de novo em instantes",
                        RETRY_AFTER_S)
            self._held += delta
            client.held += delta
        return new
