"""Segments: closed journals rewritten as compressed columns, and the thread that does it.

A segment is written whole (temp file, fsync, rename, fsync of the directory) and only then
is its journal deleted. A crash in between leaves both; recovery then trusts the segment and
deletes the journal, so nothing is counted twice.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from .block import Columns
from .codec import Accumulator
from .files import journal_path, remove, scan, segment_path, write_atomic
from .journal import replay_journal
from .segment_codec import SegmentMeter, decode_segment, encode_segment

log = logging.getLogger(__name__)

# After a failed compaction (disk full, unreadable journal) wait this long before retrying,
# so a persistent fault costs a log line every few seconds rather than a busy loop. The
# journals stay and are replayed at start-up meanwhile: nothing is lost, only space.
RETRY_AFTER_FAILURE_S = 5.0


def read_segment(path: Path) -> list[SegmentMeter]:
    return decode_segment(path.read_bytes(), path.name)


def segment_meters(journal: Path, durable: bool) -> list[SegmentMeter]:
    """The segment content of a closed journal: per meter, the readings after its last
    tombstone in (ts, seq) order, and whether a tombstone was seen."""
    blocks: dict[str, Accumulator] = {}
    tombstoned: set[str] = set()

    def on_tombstone(meter_id: str) -> None:
        blocks.pop(meter_id, None)
        tombstoned.add(meter_id)

    replay_journal(journal, blocks, on_tombstone, durable)
    meters = []
    for meter_id in sorted(blocks.keys() | tombstoned):
        block = blocks.get(meter_id)
        columns = block.columns().sorted_unique() if block is not None else Columns.empty()
        meters.append(SegmentMeter(meter_id, meter_id in tombstoned, columns))
    return meters


def compact_journal(directory: Path, number: int, durable: bool) -> None:
    """Turn closed journal `number` into segment `number`, then delete the journal."""
    source = journal_path(directory, number)
    meters = segment_meters(source, durable)
    write_atomic(segment_path(directory, number), encode_segment(meters), durable=durable)
    remove(source, durable)


class Compactor:
    """Owns the compaction thread: `start`, `wake` after a rotation, `stop` (joins). Journals
    are compacted in number order and a failure stops the round, so segments always precede
    the remaining journals."""

    def __init__(self, directory: Path, durable: bool, current_journal: Callable[[], int]) -> None:
        self._directory = directory
        self._durable = durable
        self._current_journal = current_journal
        self._lock = threading.Lock()  # one compaction at a time: the thread or compact()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # daemon: if an owner forgets close(), the interpreter can still exit; the journals
        # it leaves are compacted at the next start. close() joins it properly.
        self._thread = threading.Thread(target=self._run, name="leituras-compactacao", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> int:
        """Compact every closed journal now; returns how many."""
        done = 0
        with self._lock:
            journals, _ = scan(self._directory)
            current = self._current_journal()
            for number in sorted(n for n in journals if n < current):
                if self._stopping.is_set():
                    break
                compact_journal(self._directory, number, self._durable)
                done += 1
        return done

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self.run_once()
            except Exception:
                log.exception("compactação das leituras falhou; nova tentativa em %.0f s", RETRY_AFTER_FAILURE_S)
                if self._stopping.wait(RETRY_AFTER_FAILURE_S):
                    break
                self._wake.set()

    def stop(self) -> None:
        """Stop the thread, letting a compaction in progress finish its current journal."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
