"""The memory budget for request bytes: every connection's buffered and announced body bytes.

A connection's charge is what its parser holds plus what the request being read has announced
(Content-Length, chunk sizes), so a client declaring 4 MiB pays for 4 MiB before sending it;
the charge of a request being answered stays until its answer is written, and all of it goes
when the connection closes. A charge that would take the total past the budget, or one client
past its share, is refused: the server answers 503 with Retry-After and closes.
"""
from __future__ import annotations

import ctypes
import logging
import platform
import threading

from .clients import Client
from .errors import MemoryBudgetExceeded
from .limits import ServerLimits

log = logging.getLogger("servidor.net")

# glibc's mallopt parameter (malloc.h) and the size from which a buffer gets its own mapping.
_M_MMAP_THRESHOLD = -3
# Above one recv's 64 KiB (those stay on the heap and are reused at once); a body buffer larger
# than this is mapped on its own and unmapped when freed.
MMAP_THRESHOLD = 256 * 1024

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


def return_freed_memory_promptly() -> bool:
    """Make large buffers give their memory back to the system when freed (glibc only).

    glibc maps big allocations on their own, but raises that threshold each time one is freed,
    up to 32 MiB: after the first wave of 4 MiB bodies the next ones come from the heap, which
    keeps the memory after they are freed (measured: 88 MiB resident after abusive clients left,
    against 26 MiB at start). Setting the threshold explicitly turns that adjustment off, so the
    budget's bytes go back to the system when the connections holding them close. Returns
    whether the setting was applied; elsewhere it is a no-op.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        log.debug("mallopt indisponível; a memória de corpos liberados pode ficar com o processo")
        return False
