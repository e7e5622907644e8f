"""energy-sensors' events, stored durably: one JSON line each in `db.eventos/eventos.jsonl`.

`append` returns once the line is fsynced, so an acknowledged event survives `kill -9`. A line
cut off by a crash (no newline at the end) was never acknowledged and is cut at open; a complete
line that is not JSON is damage and refuses to open. Besides the file, only each event's numeric
features stay in memory (for clustering), not the events.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from array import array
from pathlib import Path
from typing import Sequence

from shared.durable import append_at
from servidor.store.errors import StoreError, storage_error

log = logging.getLogger("servidor.eventos")

FILE_NAME = "eventos.jsonl"
_WHAT = "o evento"


class EventsDamaged(StoreError):
    """A stored event line that no longer reads back."""


class EventStore:
    """Append-only, thread-safe; `directory` None keeps the features in memory only."""

    def __init__(self, directory: Path | None, width: int) -> None:
        self._lock = threading.Lock()
        self._width = width
        self._features = array("d")
        self._path = None if directory is None else directory / FILE_NAME
        self._size = 0
        if directory is None:
            return
        try:
            directory.mkdir(parents=True, exist_ok=True)
            data = self._path.read_bytes() if self._path.exists() else b""
        except OSError as exc:
            raise storage_error(exc, "os eventos", "ler") from exc
        good = data.rfind(b"\n") + 1
        for number, line in enumerate(data[:good].splitlines(), start=1):
            try:
                self._features.extend(json.loads(line)["f"])
            except (ValueError, KeyError, TypeError):
                raise EventsDamaged("arquivo de eventos danificado", f"{self._path} linha {number}") from None
        if good < len(data):
            log.info("eventos: %d bytes de uma gravação interrompida descartados", len(data) - good)
            with open(self._path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        self._size = good

    def append(self, event: dict, features: Sequence[float], received_ms: int) -> int:
        """Store one event durably; returns how many are stored. StorageFull / StorageUnavailable
        with nothing stored."""
        if len(features) != self._width:
            raise ValueError(f"expected {self._width} features")
        # ASCII: a lone surrogate in a JSON string sent by a client travels escaped (\\ud800), not as bytes.
        line = json.dumps({"recebido_ms": received_ms, "f": list(features), "evento": event},
                          separators=(",", ":")).encode("ascii") + b"\n"
        with self._lock:
            if self._path is not None:
                try:
                    append_at(self._path, self._size, line)
                except OSError as exc:
                    raise storage_error(exc, _WHAT) from exc
                self._size += len(line)
            self._features.extend(features)
            return len(self._features) // self._width

    def close(self) -> None:
        """Nothing to release: every append closed the file it wrote."""

    @property
    def count(self) -> int:
        return len(self._features) // self._width

    def feature_rows(self) -> list[list[float]]:
        """Every stored event's features, in order (a copy)."""
        with self._lock:
            flat = self._features[:]
        w = self._width
        return [list(flat[i:i + w]) for i in range(0, len(flat), w)]

    def events(self) -> list[dict]:
        """Every stored event as it was parsed (reads the file; for tests and exports)."""
        if self._path is None or not self._path.exists():
            return []
        with self._lock:
            data = self._path.read_bytes()[:self._size]
        return [json.loads(line)["evento"] for line in data.splitlines()]
