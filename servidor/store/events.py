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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from shared.durable import append_at
from servidor.store.errors import StoreError, storage_error

log = logging.getLogger("servidor.eventos")

FILE_NAME = "eventos.jsonl"
_WHAT = "o evento"


class EventsDamaged(StoreError):
    """A stored event line that no longer reads back."""


@dataclass(frozen=True, slots=True)
class EventEntry:
    """One stored event: as parsed, its features, when it was received (ms)."""

    event: dict
    features: tuple[float, ...]
    received_ms: int

    def text(self) -> str:
        """The stored JSON, ASCII only: a lone surrogate in a JSON string sent by a client travels
        escaped (\\ud800), not as bytes."""
        return json.dumps({"recebido_ms": self.received_ms, "f": list(self.features), "evento": self.event},
                          separators=(",", ":"))

    def line(self) -> bytes:
        return self.text().encode("ascii") + b"\n"

    @classmethod
    def parse(cls, line: bytes | str) -> "EventEntry":
        record = json.loads(line)
        return cls(record["evento"], tuple(record["f"]), record["recebido_ms"])


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
        return self.append_many([EventEntry(event, tuple(features), received_ms)])

    def append_many(self, entries: Sequence["EventEntry"]) -> int:
        """Store the events in order with one write and one fsync (`servidor migrar`); how many
        are stored. A crash midway keeps whole lines only: the store counts what it kept."""
        for entry in entries:
            if len(entry.features) != self._width:
                raise ValueError(f"expected {self._width} features")
        data = b"".join(entry.line() for entry in entries)
        with self._lock:
            if self._path is not None and data:
                try:
                    append_at(self._path, self._size, data)
                except OSError as exc:
                    raise storage_error(exc, _WHAT) from exc
                self._size += len(data)
            for entry in entries:
                self._features.extend(entry.features)
            return len(self._features) // self._width

    def entries(self, start: int = 0) -> Iterator["EventEntry"]:
        """The stored events from the `start`-th on, in order, read from the file as they are
        needed (none for the memory store, which keeps features only)."""
        if self._path is None or not self._path.exists():
            return
        with self._lock:
            size = self._size
        with open(self._path, "rb") as f:
            read = 0
            for number, line in enumerate(f):
                read += len(line)
                if read > size:
                    return
                if number >= start:
                    yield EventEntry.parse(line)

    def close(self) -> None:
        """Nothing to release: every append closed the file it wrote."""

    def file_image(self) -> bytes | None:
        """The file's stored lines, read at one instant (a backup's copy); None in memory."""
        if self._path is None:
            return None
        with self._lock:
            try:
                with open(self._path, "rb") as f:
                    return f.read(self._size)
            except FileNotFoundError:
                return b""
            except OSError as exc:
                raise storage_error(exc, "os eventos", "ler") from exc

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
