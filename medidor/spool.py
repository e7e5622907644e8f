"""The agent's durable outbox: readings wait here, on disk, until the server acknowledges them.

Layout of a spool directory:

* ``NNNNNNNNNNNN.seg`` — append-only segment files. Each record is a 16-byte header
  (payload length u32, seq u64, CRC-32 u32 over seq + payload, little-endian) and the payload.
* ``confirmado.json`` — the acknowledgement cursor: the first unacknowledged byte (segment and
  offset), the last acknowledged seq and that record's payload. Rewritten whole, atomically.

Guarantees: `append` returns only after the records are fsynced, so a `kill -9` or a power cut
loses nothing it accepted; `ack_through` returns only after the cursor is durable, so an
acknowledged record is never handed out again. A record torn by a crash mid-append (its append
never returned) is cut off when the spool is reopened.
"""
from __future__ import annotations

import json
import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from shared.durable import fsync_dir, write_atomic

log = logging.getLogger("medidor.spool")

_HEADER = struct.Struct("<IQI")
# A reading is 100-400 bytes of JSON; a length beyond this is a corrupt header, not a record.
MAX_RECORD_BYTES = 64 * 1024
# Records waiting at most. A reading takes 150-400 bytes on disk, so the spool stays under
# ~400 MB; that is 115 days of 10-s readings, far beyond any outage worth riding out, and the
# catch-up after it (1000 per request) still takes minutes, not hours.
MAX_RECORDS = 1_000_000
# Beyond this fill ratio the agent warns on its status line and raises `spool_cheio`.
WARN_RATIO = 0.8
# Segments roll at this size so acknowledged data is freed in pieces, not only when all is sent.
SEGMENT_BYTES = 4 * 1024 * 1024
_ACK_FILE = "confirmado.json"
_SEGMENT_SUFFIX = ".seg"
_VERSION = 1


class SpoolError(Exception):
    """The spool cannot be used (unreadable directory, a file from a newer version)."""


class SpoolFull(SpoolError):
    """The records do not fit under the bound; none of them was appended."""


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    seq: int
    payload: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.seq < 2**63:
            raise ValueError(f"seq out of range: {self.seq}")
        if len(self.payload) > MAX_RECORD_BYTES:
            raise ValueError(f"record of {len(self.payload)} bytes exceeds {MAX_RECORD_BYTES}")


@dataclass(frozen=True, slots=True)
class _Position:
    segment: int
    offset: int


def _encode(record: SpoolRecord) -> bytes:
    seq_bytes = record.seq.to_bytes(8, "little")
    crc = zlib.crc32(record.payload, zlib.crc32(seq_bytes))
    return _HEADER.pack(len(record.payload), record.seq, crc) + record.payload


def _segment_name(index: int) -> str:
    return f"{index:012d}{_SEGMENT_SUFFIX}"


def _scan(data: bytes, start: int) -> Iterator[tuple[int, SpoolRecord, int]]:
    """Valid records in `data` from `start`: (offset, record, next offset). Stops at the first
    torn or corrupt record; the caller learns where from the last `next offset`."""
    pos = start
    size = len(data)
    while pos + _HEADER.size <= size:
        length, seq, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if length > MAX_RECORD_BYTES or end > size or seq >= 2**63:
            return
        payload = data[pos + _HEADER.size:end]
        if zlib.crc32(payload, zlib.crc32(seq.to_bytes(8, "little"))) != crc:
            return
        yield pos, SpoolRecord(seq, payload), end
        pos = end


class Spool:
    """A bounded, durable FIFO of (seq, payload) records with strictly increasing seqs.

    Thread-safe: the measuring thread appends while the sending thread peeks and acknowledges.
    """

    def __init__(self, directory: Path, *, max_records: int = MAX_RECORDS, segment_bytes: int = SEGMENT_BYTES) -> None:
        if max_records < 1:
            raise ValueError("max_records must be ≥ 1")
        self.directory = Path(directory)
        self.max_records = max_records
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._closed = False
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._recover()
        except OSError as exc:
            raise SpoolError(f"não foi possível abrir o spool em {self.directory}: {exc}") from exc

    # -- public ---------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Records appended and not yet acknowledged."""
        return self._pending

    @property
    def free(self) -> int:
        return self.max_records - self._pending

    @property
    def fill_ratio(self) -> float:
        return self._pending / self.max_records

    @property
    def last_seq(self) -> int | None:
        """The highest seq ever appended (acknowledged or not), or None for a new spool."""
        return self._last_seq

    @property
    def last_payload(self) -> bytes | None:
        """The payload of the record with `last_seq`: where a restarted meter resumes from."""
        return self._last_payload

    @property
    def acked_seq(self) -> int | None:
        return self._acked_seq

    def append(self, records: Sequence[SpoolRecord]) -> None:
        """Append and fsync; all or nothing. Raises SpoolFull, or ValueError on a seq out of order."""
        if not records:
            return
        with self._lock:
            self._check_open()
            if len(records) > self.free:
                raise SpoolFull(f"spool cheio: {self._pending} de {self.max_records} leituras esperando envio")
            previous = self._last_seq
            for record in records:
                if previous is not None and record.seq <= previous:
                    raise ValueError(f"seq {record.seq} is not after {previous}")
                previous = record.seq
            if self._active_size >= self._segment_bytes:
                self._roll()
            data = b"".join(_encode(r) for r in records)
            try:
                self._writer.write(data)
                self._writer.flush()
                os.fsync(self._writer.fileno())
            except OSError:
                # Cut a partial write off now, so a later append does not land behind garbage.
                self._truncate_active(self._active_size)
                raise
            self._active_size += len(data)
            self._pending += len(records)
            self._last_seq = records[-1].seq
            self._last_payload = records[-1].payload

    def peek(self, limit: int) -> list[SpoolRecord]:
        """The oldest `limit` unacknowledged records, oldest first (not removed)."""
        with self._lock:
            self._check_open()
            out: list[SpoolRecord] = []
            for record, _ in self._iter_from(self._cursor):
                if len(out) >= limit:
                    break
                out.append(record)
            return out

    def ack_through(self, seq: int) -> int:
        """Acknowledge every pending record with seq ≤ `seq`; returns how many. Durable on return."""
        with self._lock:
            self._check_open()
            count = 0
            cursor = self._cursor
            last: SpoolRecord | None = None
            for record, after in self._iter_from(self._cursor):
                if record.seq > seq:
                    break
                cursor, last, count = after, record, count + 1
            if count == 0:
                return 0
            self._write_ack(cursor, last)
            self._cursor = cursor
            self._pending -= count
            self._acked_seq = last.seq
            self._drop_acked_segments()
            return count

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._writer.close()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise SpoolError("spool fechado")

    def _path(self, index: int) -> Path:
        return self.directory / _segment_name(index)

    def _segments(self) -> list[int]:
        out = []
        for entry in self.directory.iterdir():
            if entry.suffix == _SEGMENT_SUFFIX and entry.stem.isdigit():
                out.append(int(entry.stem))
        return sorted(out)

    def _read_ack(self) -> tuple[_Position | None, int | None, bytes | None]:
        path = self.directory / _ACK_FILE
        try:
            doc = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return None, None, None
        except (OSError, ValueError) as exc:
            # Written by os.replace, so never torn; unreadable means damage from outside. Starting
            # over resends records the server already has, which it answers as duplicates.
            log.warning("spool: %s ilegível (%s); reenviando desde o início", path, exc)
            return None, None, None
        if not isinstance(doc, dict) or doc.get("versao") != _VERSION:
            raise SpoolError(f"{path} foi gravado por outra versão do medidor: {doc.get('versao') if isinstance(doc, dict) else doc!r}")
        payload = doc.get("ultimo")
        return (_Position(int(doc["segmento"]), int(doc["posicao"])), doc.get("seq"),
                None if payload is None else payload.encode("utf-8"))

    def _write_ack(self, cursor: _Position, last: SpoolRecord) -> None:
        doc = {"versao": _VERSION, "segmento": cursor.segment, "posicao": cursor.offset, "seq": last.seq,
               "ultimo": last.payload.decode("utf-8", "replace")}
        write_atomic(self.directory / _ACK_FILE, json.dumps(doc).encode("utf-8"))

    def _recover(self) -> None:
        """Find the cursor and the tail, cut torn records, count what is pending."""
        cursor, acked_seq, acked_payload = self._read_ack()
        segments = self._segments()
        if cursor is None:
            cursor = _Position(segments[0] if segments else 0, 0)
        elif cursor.segment not in segments:
            # Its segment was deleted once fully acknowledged: resume at the next one that exists.
            later = [i for i in segments if i > cursor.segment]
            cursor = _Position(later[0] if later else cursor.segment + 1, 0)
        for index in segments:
            if index < cursor.segment:
                # Fully acknowledged; the crash came between the ack and the delete.
                self._path(index).unlink()
        segments = [i for i in segments if i >= cursor.segment]
        self._acked_seq = acked_seq
        self._last_seq = acked_seq
        self._last_payload = acked_payload
        self._pending = 0
        for position, index in enumerate(segments):
            path = self._path(index)
            data = path.read_bytes()
            start = cursor.offset if index == cursor.segment else 0
            if start > len(data):
                raise SpoolError(f"{self.directory / _ACK_FILE} aponta além do fim de {path}")
            end = start
            for _, record, after in _scan(data, start):
                if self._last_seq is not None and record.seq <= self._last_seq:
                    break  # out of order: only damage could write this
                self._pending += 1
                self._last_seq, self._last_payload = record.seq, record.payload
                end = after
            if end < len(data):
                lost = len(data) - end
                if position == len(segments) - 1:
                    log.info("spool: %d bytes de uma gravação interrompida descartados em %s", lost, path.name)
                else:
                    log.error("spool: %s corrompido; %d bytes após a posição %d descartados", path.name, lost, end)
                with open(path, "r+b") as f:
                    f.truncate(end)
                    os.fsync(f.fileno())
        self._cursor = cursor
        active = segments[-1] if segments else cursor.segment
        self._active = active
        path = self._path(active)
        created = not path.exists()
        self._writer = open(path, "ab")
        if created:
            fsync_dir(self.directory)
        self._active_size = self._writer.tell()

    def _roll(self) -> None:
        self._writer.close()
        self._active += 1
        self._writer = open(self._path(self._active), "ab")
        self._active_size = 0
        fsync_dir(self.directory)

    def _truncate_active(self, size: int) -> None:
        try:
            self._writer.truncate(size)
            self._writer.seek(size)
        except OSError:
            log.exception("spool: não foi possível desfazer uma gravação parcial")

    def _iter_from(self, start: _Position) -> Iterator[tuple[SpoolRecord, _Position]]:
        """Pending records from `start` with the position after each, across segments."""
        index, offset = start.segment, start.offset
        while index <= self._active:
            path = self._path(index)
            if index == self._active:
                limit = self._active_size
            else:
                try:
                    limit = path.stat().st_size
                except FileNotFoundError:
                    index, offset = index + 1, 0
                    continue
            if offset < limit:
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read(limit - offset)
                for _, record, after in _scan(data, 0):
                    yield record, _Position(index, offset + after)
            index, offset = index + 1, 0

    def _drop_acked_segments(self) -> None:
        cursor = self._cursor
        if cursor.segment < self._active and cursor.offset >= self._path(cursor.segment).stat().st_size:
            # The cursor sits at the end of a finished segment: move it to the next one.
            cursor = _Position(cursor.segment + 1, 0)
            self._cursor = cursor
        for index in self._segments():
            if index < cursor.segment:
                self._path(index).unlink()
