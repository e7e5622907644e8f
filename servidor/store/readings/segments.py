"""Segments: closed journals rewritten as compressed columns, deleted streams reclaimed, and the
thread that does both.

A segment is written whole (temp file, fsync, rename, fsync of the directory) and only then
is its journal deleted. A crash in between leaves both; recovery then trusts the segment and
deletes the journal, so nothing is counted twice. A deleted stream's readings are left out of
every new segment, and every older segment holding some is rewritten without them (the same
whole-file replacement), so that deleting a meter frees its space instead of hiding it.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from servidor.store.errors import StoreError, storage_error

from .block import Columns
from .codec import SEGMENT_MAGIC, SEGMENT_VERSION, Accumulator, file_header
from .errors import StoreDamaged
from .files import journal_path, remove, scan, segment_path, write_atomic
from .journal import replay_journal
from .segment_codec import SegmentMeter, encode_segment, scan_segment

log = logging.getLogger(__name__)

# After a failed compaction (disk full, unreadable journal) wait this long before retrying,
# so a persistent fault costs a log line every few seconds rather than a busy loop. The
# journals stay and are replayed at start-up meanwhile: nothing is lost, only space.
RETRY_AFTER_FAILURE_S = 5.0


def segment_meters(journal: Path, dead: frozenset[str]) -> list[SegmentMeter]:
    """The segment content of a closed journal: per live meter, the readings after its last
    (legacy) tombstone in (ts, seq) order, and whether such a tombstone was seen.
    StoreDamaged if the journal is damaged: compaction never drops what it cannot read."""
    blocks: dict[str, Accumulator] = {}
    tombstoned: set[str] = set()

    def on_tombstone(meter_id: str) -> None:
        blocks.pop(meter_id, None)
        tombstoned.add(meter_id)

    found = replay_journal(journal, blocks, on_tombstone)
    if found.damages:
        raise StoreDamaged(list(found.damages))
    meters = []
    for meter_id in sorted((blocks.keys() | tombstoned) - dead):
        block = blocks.get(meter_id)
        columns = block.columns().sorted_unique() if block is not None else Columns.empty()
        meters.append(SegmentMeter(meter_id, meter_id in tombstoned, columns))
    return meters


def compact_journal(directory: Path, number: int, durable: bool, dead: frozenset[str] = frozenset()) -> frozenset[str]:
    """Turn closed journal `number` into segment `number`, then delete the journal; return the
    keys the segment holds."""
    source = journal_path(directory, number)
    meters = segment_meters(source, dead)
    if meters:  # a journal of deleted streams only leaves nothing behind
        write_atomic(segment_path(directory, number), encode_segment(meters), durable=durable)
    remove(source, durable)
    return frozenset(m.meter_id for m in meters)


def reclaim_segment(directory: Path, number: int, durable: bool, dead: frozenset[str]) -> frozenset[str]:
    """Rewrite segment `number` without the readings of `dead` keys (removing it if nothing is
    left); return the keys it still holds."""
    path = segment_path(directory, number)
    found = scan_segment(path.read_bytes(), path.name)
    if found.damages:
        raise StoreDamaged(list(found.damages))
    kept = [m for m in found.meters if m.meter_id not in dead]
    keys = frozenset(m.meter_id for m in kept)
    if not kept:
        remove(path, durable)
    elif found.spans:  # framed: copy the surviving frames as they are
        data = path.read_bytes()
        frames = [data[a:b] for (a, b), m in zip(found.spans, found.meters, strict=True) if m.meter_id not in dead]
        write_atomic(path, file_header(SEGMENT_MAGIC, SEGMENT_VERSION) + b"".join(frames), durable=durable)
    else:  # an old one-block segment: written again in the framed format
        write_atomic(path, encode_segment(kept), durable=durable)
    return keys


class Compactor:
    """Owns the compaction thread: `start`, `wake` after a rotation or a deletion, `stop`
    (joins). Journals are compacted in number order and a failure stops the round, so segments
    always precede the remaining journals. `on_result` hears each round's outcome (None: it
    went well, and wrote something)."""

    def __init__(self, directory: Path, durable: bool, current_journal: Callable[[], int],
                 dead: Callable[[], frozenset[str]] = frozenset,
                 on_result: Callable[[Exception | None], None] = lambda _e: None) -> None:
        self._directory = directory
        self._durable = durable
        self._current_journal = current_journal
        self._dead = dead
        self._on_result = on_result
        self._lock = threading.Lock()  # one compaction at a time: the thread or compact()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Keys held by each segment, so that a deletion rewrites only the segments it touches.
        self._segment_keys: dict[int, frozenset[str]] = {}

    def index(self, segment_keys: dict[int, frozenset[str]]) -> None:
        """The keys of the segments found at open."""
        with self._lock:
            self._segment_keys = dict(segment_keys)

    def start(self) -> None:
        # daemon: if an owner forgets close(), the interpreter can still exit; the journals
        # it leaves are compacted at the next start. close() joins it properly.
        self._thread = threading.Thread(target=self._run, name="leituras-compactacao", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> int:
        """Compact every closed journal and reclaim deleted streams now; return how many files
        were written or removed. StoreError (typed for a full disk) if a step failed."""
        done = 0
        with self._lock:
            try:
                dead = self._dead()
                journals, _ = scan(self._directory)
                current = self._current_journal()
                for number in sorted(n for n in journals if n < current):
                    if self._stopping.is_set():
                        return done
                    keys = compact_journal(self._directory, number, self._durable, dead)
                    if keys:
                        self._segment_keys[number] = keys
                    done += 1
                for number, held in sorted(self._segment_keys.items()):
                    if self._stopping.is_set():
                        return done
                    if held & dead:
                        kept = reclaim_segment(self._directory, number, self._durable, dead)
                        if kept:
                            self._segment_keys[number] = kept
                        else:
                            del self._segment_keys[number]
                        done += 1
            except OSError as exc:
                raise storage_error(exc, "a compactação das leituras") from exc
        return done

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                done = self.run_once()
            except Exception as exc:  # noqa: BLE001 - the thread must survive, and say why it failed
                retry = RETRY_AFTER_FAILURE_S
                if isinstance(exc, StoreError):
                    log.error("compactação das leituras falhou (%s); nova tentativa em %.0f s", exc, retry)
                else:
                    log.exception("compactação das leituras falhou; nova tentativa em %.0f s", retry)
                self._on_result(exc)
                if self._stopping.wait(RETRY_AFTER_FAILURE_S):
                    break
                self._wake.set()
            else:
                if done:
                    self._on_result(None)

    def stop(self) -> None:
        """Stop the thread, letting a compaction in progress finish its current file."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
