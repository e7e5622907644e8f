"""The blink store's files on disk: reading their frames back, cutting a torn tail, appending durably."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

from servidor.store.errors import StoreError

from .codec import FrameDamaged, read_frame

log = logging.getLogger("servidor.pulsos")


class BlinksDamaged(StoreError):
    """A blink file whose bytes no longer check out; the message says which and where."""


def frames(path: Path, data: bytes) -> Iterator[tuple[bytes, int]]:
    pos = 0
    while True:
        try:
            found = read_frame(data, pos)
        except FrameDamaged as exc:
            raise BlinksDamaged(f"arquivo de pulsos danificado: {exc}", f"{path} posição {pos}") from None
        if found is None:
            return
        yield found
        pos = found[1]


def cut_torn_tail(path: Path, data: bytes, good: int) -> int:
    """Cut a torn tail (an append that never returned, so never acknowledged) off `path`."""
    if good < len(data):
        log.info("pulsos: %d bytes de uma gravação interrompida descartados no fim de %s", len(data) - good, path)
        with open(path, "r+b") as f:
            f.truncate(good)
            os.fsync(f.fileno())
    return good
