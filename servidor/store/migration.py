"""Copying one server's stores whole into another's (`servidor migrar`): every document, every
stream's readings with their seqs, the deleted stream keys; and the figures that show the copy
is whole. Blinks and events: side_migration.py.

Readings go in through the destination's own `append`, a page at a time in (ts, seq) order, so
the destination keeps its rollups as on any ingest and never holds more than a page in this
process. An append is durable when it returns, so after an interruption (Ctrl-C, kill -9, a
dropped connection) the destination holds, of each stream, a prefix of the source's order: the
next run starts after the destination's last reading, and what it sends again is stored once
anyway (a seq is stored once). Documents are copied last, each table replaced whole in one
atomic change, so copying them again replaces them.

A marker document (table `migracao`) in the destination names the source and says whether the
copy was finished and checked: a run against a destination holding anything else is refused,
as is a server started on a destination whose copy is unfinished (servidor/cli.py).

A stream's figures are its count, a digest of every reading in (ts, seq) order (seq, ts,
counter, power, the estimated flag, the measurements), and its energy in and out over all its
time, read from the rollups the invoices are computed from.
"""
from __future__ import annotations

import hashlib
import math
import struct
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from shared.models import Reading

from .interface import DocumentsBackend, ReadingsBackend
from .readings.medidas import encode_medidas
from .readings.rollups import BUCKET_MS

MARKER_TABLE = "migracao"
MARKER_ID = "migracao"
COPYING = "copiando"
DONE = "concluida"
# Not copied: the embedded store's format mark (each store writes its own), and the marker,
# which describes the store it is in.
NOT_COPIED = frozenset({"meta", MARKER_TABLE})
# Readings per append and per read: one PostgreSQL transaction each. Large enough that the
# round trips and commits cost little per reading, small enough that a page (a few MB of Reading
# objects) is nothing beside the embedded store's own memory, and that Ctrl-C loses seconds.
DEFAULT_PAGE = 20_000
# Rollup sums kept in another order (pages, SQL sums) differ in the last bits, never more.
ENERGY_TOLERANCE = 1e-9

_ROW = struct.Struct("<qqddBH")


@dataclass(frozen=True, slots=True)
class Figures:
    """One stream as a user would check it: how many readings, their digest, energy in and out (Wh)."""

    readings: int
    digest: str
    wh: float
    wh_exported: float

    def same_as(self, other: "Figures") -> bool:
        return (self.readings, self.digest) == (other.readings, other.digest) and \
            math.isclose(self.wh, other.wh, rel_tol=ENERGY_TOLERANCE, abs_tol=1e-6) and \
            math.isclose(self.wh_exported, other.wh_exported, rel_tol=ENERGY_TOLERANCE, abs_tol=1e-6)


class Tally:
    """Figures accumulated over a stream's readings, fed in (ts, seq) order."""

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=16)
        self.count = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    def add(self, batch: Sequence[Reading]) -> None:
        if not batch:
            return
        parts = []
        for r in batch:
            blob = encode_medidas(r.medidas) if r.medidas else b""
            power = math.nan if r.potencia_w is None else r.potencia_w
            parts.append(_ROW.pack(r.seq, r.ts_ms, r.energia_wh, power, r.estimada, len(blob)) + blob)
        self._hash.update(b"".join(parts))
        self.count += len(batch)
        if self.first_ts is None:
            self.first_ts = batch[0].ts_ms
        self.last_ts = batch[-1].ts_ms

    def figures(self, store: ReadingsBackend, stream: str) -> Figures:
        wh = exported = 0.0
        if self.first_ts is not None and self.last_ts is not None:
            lo, hi = self.first_ts // BUCKET_MS * BUCKET_MS, (self.last_ts // BUCKET_MS + 1) * BUCKET_MS
            wh = store.energy(stream, lo, hi)[0]
            exported = store.energy(stream, lo, hi, exported=True)[0]
        return Figures(self.count, self._hash.hexdigest(), wh, exported)


def pages(store: ReadingsBackend, stream: str, size: int = DEFAULT_PAGE) -> Iterator[list[Reading]]:
    """The stream's readings in (ts, seq) order, `size` at a time."""
    key = None
    while True:
        batch = store.after_key(stream, key, size)
        if batch:
            yield batch
        if len(batch) < size:
            return
        key = (batch[-1].ts_ms, batch[-1].seq)


def copy_stream(source: ReadingsBackend, destination: ReadingsBackend, stream: str, size: int = DEFAULT_PAGE,
                advance: Callable[[int, int], None] = lambda read, stored: None) -> Figures:
    """Append to `destination` the readings of `stream` after its last one there; the source's
    figures. `advance(read, stored)` after each page."""
    last = destination.last(stream)
    resume = None if last is None else (last.ts_ms, last.seq)
    tally = Tally()
    for batch in pages(source, stream, size):
        tally.add(batch)
        fresh = batch
        if resume is not None:
            end = batch[-1]
            fresh = [] if (end.ts_ms, end.seq) <= resume else [r for r in batch if (r.ts_ms, r.seq) > resume]
        stored = destination.append(stream, fresh).aceitas if fresh else 0
        advance(len(batch), stored)
    return tally.figures(source, stream)


def figures_of(store: ReadingsBackend, stream: str, size: int = DEFAULT_PAGE,
               advance: Callable[[int], None] = lambda read: None) -> Figures:
    tally = Tally()
    for batch in pages(store, stream, size):
        tally.add(batch)
        advance(len(batch))
    return tally.figures(store, stream)


# -- documents ------------------------------------------------------------------------------------

def documents_of(docs: DocumentsBackend) -> dict[str, list[dict[str, Any]]]:
    """Every table that is copied and holds documents, with them in insertion order (an emptied
    table is kept by TinyDB, never by PostgreSQL: it holds nothing to copy)."""
    tables = {name: docs.all(name) for name in docs.table_names() if name not in NOT_COPIED}
    return {name: rows for name, rows in tables.items() if rows}


def copy_documents(source: DocumentsBackend, destination: DocumentsBackend) -> dict[str, list[dict[str, Any]]]:
    """Replace each of the source's tables in the destination, all in one atomic change; the tables copied."""
    tables = documents_of(source)

    def change(dest) -> None:
        for name, rows in tables.items():
            dest.remove_table(name)
            for doc in rows:
                dest.insert(name, doc)

    destination.atomic(change)
    return tables


def holds_data(docs: DocumentsBackend, readings: ReadingsBackend) -> bool:
    """Whether a store holds anything but a migration's marker."""
    return bool(readings.meters() or readings.deleted_streams()
                or any(docs.all(name) for name in docs.table_names() if name not in NOT_COPIED))


# -- the marker ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Marker:
    """What the destination says of the copy into it: from where, since when, whether finished."""

    source: str
    state: str
    started_at: str
    finished_at: str | None = None

    @classmethod
    def of(cls, docs: DocumentsBackend) -> "Marker | None":
        doc = docs.get(MARKER_TABLE, "id", MARKER_ID)
        if doc is None:
            return None
        return cls(str(doc.get("origem")), str(doc.get("estado")), str(doc.get("iniciada_em")), doc.get("concluida_em"))

    def save(self, docs: DocumentsBackend) -> None:
        docs.upsert(MARKER_TABLE, "id", {"id": MARKER_ID, "origem": self.source, "estado": self.state,
                                         "iniciada_em": self.started_at, "concluida_em": self.finished_at})


def unfinished(docs: DocumentsBackend) -> Marker | None:
    """The marker of a copy into `docs` that was started and not finished and checked, if any."""
    marker = Marker.of(docs)
    return marker if marker is not None and marker.state != DONE else None


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
