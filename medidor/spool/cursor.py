"""How far the server has acknowledged: the cursor file, overwritten in place.

`confirmado.dat` holds two fixed-size slots. Each write goes to the slot of the older generation
and is fsynced, so a write torn by a crash leaves the previous cursor readable in the other slot;
a CRC tells the two apart. The file is allocated whole when created and never grows: recording
an acknowledgement — which is what frees space on a full disk — never needs space itself, where
a temp file + rename needs a new block and fails exactly when the disk is full.

A slot: magic, generation, segment, offset, last acknowledged seq, seq floor, payload length,
CRC-32 (over everything before it and the payload), then the last acknowledged payload.
"""
from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from shared.durable import fsync_dir

from .errors import SpoolError
from .layout import CURSOR_FILE, LEGACY_CURSOR_FILE, list_segments, segment_path
from .records import MAX_RECORD_BYTES

log = logging.getLogger("medidor.spool")

_SLOT = struct.Struct("<4sQQQqqII")
MAGIC = b"MEC1"
# A header and the largest payload, rounded up to whole 4 KiB pages.
SLOT_BYTES = -(-(_SLOT.size + MAX_RECORD_BYTES) // 4096) * 4096
_NONE = -1
_LEGACY_VERSION = 1


@dataclass(frozen=True, slots=True)
class Cursor:
    """The first unacknowledged byte, and what a restarted agent must know about the past."""

    segment: int
    offset: int
    acked_seq: int | None = None
    # The last acknowledged record: where a meter resumes its counter once everything is sent
    # and the segments that held it are gone.
    acked_payload: bytes | None = None
    # No seq below this may be used again: set when records whose seq may have reached the
    # server were dropped (a repair, a torn tail whose header named a seq).
    floor: int | None = None


def _pack(generation: int, cursor: Cursor) -> bytes:
    payload = cursor.acked_payload or b""
    head = _SLOT.pack(MAGIC, generation, cursor.segment, cursor.offset,
                      _NONE if cursor.acked_seq is None else cursor.acked_seq,
                      _NONE if cursor.floor is None else cursor.floor, len(payload), 0)
    crc = zlib.crc32(payload, zlib.crc32(head[:-4]))
    return head[:-4] + crc.to_bytes(4, "little") + payload


def _unpack(raw: bytes) -> tuple[int, Cursor] | None | str:
    """(generation, cursor); None for an empty or unreadable slot; "newer" for another version."""
    if len(raw) < _SLOT.size:
        return None
    magic, generation, segment, offset, acked, floor, length, crc = _SLOT.unpack_from(raw)
    if length > MAX_RECORD_BYTES or _SLOT.size + length > len(raw):
        length = -1
    valid = length >= 0 and zlib.crc32(raw[_SLOT.size:_SLOT.size + length],
                                       zlib.crc32(MAGIC + raw[4:_SLOT.size - 4])) == crc
    if magic != MAGIC:
        # "MEC2" is a newer agent's cursor, unless our own CRC holds: then one bit of our
        # version digit flipped, and the slot is merely damaged.
        newer = magic[:3] == MAGIC[:3] and magic[3:].isdigit() and not valid
        return "newer" if newer else None
    if not valid:
        return None
    payload = raw[_SLOT.size:_SLOT.size + length]
    return generation, Cursor(segment, offset, None if acked == _NONE else acked,
                              payload if length else None, None if floor == _NONE else floor)


def _newest(path: Path, fd: int) -> tuple[int, Cursor | None, str | None]:
    """(generation, cursor, problem) from the two slots of an open cursor file."""
    slots = [os.pread(fd, SLOT_BYTES, i * SLOT_BYTES) for i in (0, 1)]
    found = [_unpack(raw) for raw in slots]
    if "newer" in found:
        raise SpoolError(f"{path} foi gravado por outra versão do medidor")
    valid = [f for f in found if isinstance(f, tuple)]
    if not valid:
        if any(raw.count(0) != len(raw) for raw in slots):
            # Both slots damaged: sending everything again is safe (the server answers a
            # resent seq as a duplicate); losing the position is not a loss of readings.
            return 0, None, f"{path} ilegível; as leituras do spool serão reenviadas desde o início"
        return 0, None, None
    generation, cursor = max(valid, key=lambda item: item[0])
    return generation, cursor, None


def read_cursor(directory: Path) -> Cursor | None:
    """The cursor, read without writing anything (for watching a spool another process uses)."""
    try:
        fd = os.open(directory / CURSOR_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        return _newest(directory / CURSOR_FILE, fd)[1]
    finally:
        os.close(fd)


class CursorFile:
    """The cursor file of one spool directory, open for its lifetime."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / CURSOR_FILE
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            size = os.fstat(self._fd).st_size
            if size < 2 * SLOT_BYTES:
                # Written out, not ftruncate'd: a sparse file would need blocks on its first write.
                os.pwrite(self._fd, bytes(2 * SLOT_BYTES - size), size)
                os.fsync(self._fd)
            if created:
                fsync_dir(directory)
            self._generation = 0
            self._cursor, self.problem = self._load()
            if self._cursor is None:
                self._migrate(directory)
        except BaseException:
            os.close(self._fd)
            raise

    @property
    def cursor(self) -> Cursor | None:
        """The newest cursor written, or None for a spool never acknowledged (or whose cursor
        file was unreadable: `problem` says so, and everything is sent again)."""
        return self._cursor

    def _load(self) -> tuple[Cursor | None, str | None]:
        generation, cursor, problem = _newest(self.path, self._fd)
        self._generation = generation
        return cursor, problem

    def write(self, cursor: Cursor) -> None:
        """Durable on return. Raises OSError (the previous cursor stays valid)."""
        generation = self._generation + 1
        os.pwrite(self._fd, _pack(generation, cursor), (generation % 2) * SLOT_BYTES)
        os.fsync(self._fd)
        self._generation = generation
        self._cursor = cursor

    def close(self) -> None:
        os.close(self._fd)

    # -- agents before the in-place cursor ------------------------------------------------------

    def _migrate(self, directory: Path) -> None:
        """Take over `confirmado.json` (whole-file rewrites), then remove it."""
        legacy = directory / LEGACY_CURSOR_FILE
        try:
            doc = json.loads(legacy.read_text("utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            self.problem = f"{legacy} ilegível ({exc}); as leituras do spool serão reenviadas desde o início"
            doc = None
        if doc is not None:
            if not isinstance(doc, dict) or doc.get("versao") != _LEGACY_VERSION:
                version = doc.get("versao") if isinstance(doc, dict) else doc
                raise SpoolError(f"{legacy} foi gravado por outra versão do medidor: {version!r}")
            segment, offset = int(doc["segmento"]), int(doc["posicao"])
            segments = list_segments(directory)
            if segment not in segments:
                # Those agents deleted a fully acknowledged segment before moving the cursor on.
                later = [i for i in segments if i > segment]
                segment, offset = (later[0] if later else segment + 1), 0
                if not later:
                    segment_path(directory, segment).touch()
                    fsync_dir(directory)
            text = doc.get("ultimo")
            payload = None if text is None else text.encode("utf-8")
            if payload is not None and len(payload) > MAX_RECORD_BYTES:
                payload = None  # not a reading this agent could have written; the counter restarts
            self.write(Cursor(segment, offset, doc.get("seq"), payload))
        legacy.unlink()
        fsync_dir(directory)
