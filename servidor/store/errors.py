"""The storage layer's one exception root, and the mapping of operating-system failures onto it.

Every failure a store operation can meet reaches the caller as a `StoreError` whose `reason` is
a short pt-BR sentence fit for an API answer or `/saude`: it never holds an absolute path (the
full message, `str(exc)`, may). A full disk or exhausted descriptors are not bugs: they pass,
and the store works again afterwards without a restart.
"""
from __future__ import annotations

import errno

# errno values meaning "no room": the disk, or the user's quota on it.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
# The process or the system ran out of file descriptors.
_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE})


class StoreError(Exception):
    """Root of every storage failure. `reason` is pt-BR and free of paths; `str()` may add detail."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason if detail is None else f"{reason}: {detail}")
        self.reason = reason


class StorageFull(StoreError):
    """No space left (ENOSPC, EDQUOT): nothing of the operation was stored; retry once space returns."""


class StorageUnavailable(StoreError):
    """The storage cannot be used right now (no descriptors left, an I/O error): nothing of the
    operation was stored; retry later."""


def storage_error(exc: OSError, what: str, doing: str = "gravar") -> StoreError:
    """The typed error for an OSError met while `doing` (pt-BR verb) `what` (e.g. "as leituras")."""
    if exc.errno in _FULL:
        cause = "disco cheio" if exc.errno == errno.ENOSPC else "cota de disco esgotada"
        return StorageFull(f"{cause}: não foi possível {doing} {what}")
    if exc.errno in _DESCRIPTORS:
        return StorageUnavailable(f"limite de arquivos abertos atingido: não foi possível {doing} {what}")
    name = errno.errorcode.get(exc.errno or 0, "erro")
    return StorageUnavailable(f"erro de E/S ({name}): não foi possível {doing} {what}", exc.strerror)
