"""Deleted streams: the stream keys that are dead forever.

A deleted key never stores again (an old agent may keep posting to it), so its death cannot
live in a journal record or a segment, which compaction rewrites and reclaims: it lives in one
small file of its own, `deleted-streams`, rewritten whole (temp file, fsync, rename) on each
deletion, before the deletion returns. Header | one frame (frames.py) per key, in UTF-8.
Deletions are rare (an administrator's act), so the rewrite costs nothing that matters.
"""
from __future__ import annotations

from pathlib import Path

from servidor.store.errors import storage_error

from . import frames
from .codec import DELETED_MAGIC, DELETED_VERSION, HEADER_SIZE, MAX_METER_ID_BYTES, file_header, header_damage
from .errors import Damage
from .files import write_atomic

DELETED_NAME = "deleted-streams"


def _plausible(_buf: bytes, body: int, end: int) -> bool:
    return 1 <= end - body <= MAX_METER_ID_BYTES


def _decode(payload: memoryview) -> str:
    return bytes(payload).decode("utf-8")


def _describe(_buf: bytes, _pos: int) -> str:
    return "provavelmente chaves de medidores apagados: as leituras delas voltariam a ser aceitas"


def encode_deleted(keys: list[str]) -> bytes:
    return file_header(DELETED_MAGIC, DELETED_VERSION) + b"".join(frames.frame(k.encode("utf-8")) for k in keys)


def scan_deleted(data: bytes, name: str = DELETED_NAME) -> frames.FrameScan:
    """The keys in a deleted-streams file (the scan's values) and its damaged places."""
    damaged = header_damage(data, DELETED_MAGIC, name, DELETED_VERSION)
    scan = frames.scan_frames(data, HEADER_SIZE, name, _plausible, _decode, _describe)
    if damaged is None:
        return scan
    return frames.FrameScan(scan.spans, scan.values, (damaged, *scan.damages), scan.torn)


class DeletedStreams:
    """The dead keys of one store directory. Not locked: the store serialises `add`."""

    def __init__(self, directory: Path, durable: bool, keys: list[str]) -> None:
        self._path = directory / DELETED_NAME
        self._durable = durable
        self._keys = list(dict.fromkeys(keys))
        self._set = frozenset(self._keys)

    @classmethod
    def load(cls, directory: Path, durable: bool) -> tuple["DeletedStreams", tuple[Damage, ...]]:
        path = directory / DELETED_NAME
        if not path.exists():
            return cls(directory, durable, []), ()
        scan = scan_deleted(path.read_bytes())
        return cls(directory, durable, list(scan.values)), scan.damages

    def __contains__(self, key: str) -> bool:
        return key in self._set

    @property
    def keys(self) -> frozenset[str]:
        """A snapshot: safe to hand to another thread, replaced (never changed) by `add`."""
        return self._set

    def add(self, key: str) -> None:
        """Make `key` dead, durably. StorageFull / StorageUnavailable if the file cannot be
        written: the key is then not dead, and nothing changed."""
        if key in self._set:
            return
        keys = [*self._keys, key]
        try:
            write_atomic(self._path, encode_deleted(keys), durable=self._durable)
        except OSError as exc:
            raise storage_error(exc, "a remoção do medidor") from exc
        self._keys = keys
        self._set = frozenset(keys)
