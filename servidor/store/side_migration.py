"""Copying the side stores whole (`servidor migrar`, beside servidor/store/migration.py): pulse
meters' blinks (db.pulsos/ or the `blinks` tables) and energy-sensors' events (db.eventos/ or
`sensor_events`), through each destination's own append, resumable as the readings are.

Blinks go in stream by stream in stamp order, after the destination's last one. A blink store
stores the blinks of a reading seq once (its watermark): the pages are appended under rising
seqs that end at the source's watermark, so after the copy a reading sent again keeps its blinks
out, as it did at the source. Events go in order after the ones the destination holds (its
count), a page per write.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, Sequence

from .blinks import Point
from .events import EventEntry

_POINT = struct.Struct("<qi")
# Stamps start here: every blink is after 1970.
FIRST_STAMP = 0


class Blinks(Protocol):
    def streams(self) -> list[str]: ...

    def watermark(self, stream: str) -> int | None: ...

    def last(self, stream: str) -> Point | None: ...

    def count(self, stream: str) -> int: ...

    def between(self, stream: str, start: int, end: int | None = None) -> Iterator[Point]: ...

    def append(self, stream: str, batches: Sequence[tuple[int, Sequence[Point]]]) -> int: ...


class Events(Protocol):
    @property
    def count(self) -> int: ...

    def entries(self, start: int = 0) -> Iterator[EventEntry]: ...

    def append_many(self, entries: Sequence[EventEntry]) -> int: ...


@dataclass(frozen=True, slots=True)
class SideFigures:
    """A blink stream or the events as a user would check them: how many, their digest in order,
    and for blinks the watermark (the highest reading seq whose blinks are stored)."""

    count: int
    digest: str
    watermark: int | None = None

    def same_as(self, other: "SideFigures") -> bool:
        return self == other


class _Digest:
    """Figures accumulated item by item, in order; `advance(n)` every `page` items and at the end."""

    def __init__(self, advance: Callable[[int], None], page: int = 10_000) -> None:
        self._hash = hashlib.blake2b(digest_size=16)
        self._parts: list[bytes] = []
        self._advance = advance
        self._page = page
        self.count = 0

    def add(self, data: bytes) -> None:
        self._parts.append(data)
        if len(self._parts) == self._page:
            self._flush()

    def _flush(self) -> None:
        self._hash.update(b"".join(self._parts))
        self.count += len(self._parts)
        self._advance(len(self._parts))
        self._parts = []

    def figures(self, watermark: int | None = None) -> SideFigures:
        self._flush()
        return SideFigures(self.count, self._hash.hexdigest(), watermark)


def blink_figures(store: Blinks, stream: str, advance: Callable[[int], None] = lambda n: None) -> SideFigures:
    digest = _Digest(advance)
    for point in store.between(stream, FIRST_STAMP):
        digest.add(_POINT.pack(*point))
    return digest.figures(store.watermark(stream))


def copy_blinks(source: Blinks, destination: Blinks, stream: str, page: int,
                advance: Callable[[int], None] = lambda n: None) -> SideFigures:
    """Append to `destination` the blinks of `stream` after its last one there, the last page
    under the source's watermark; the source's figures."""
    top = source.watermark(stream)
    top = -1 if top is None else top
    have = destination.watermark(stream)
    have = -1 if have is None else have
    last = destination.last(stream)
    missing = max(source.count(stream) - destination.count(stream), 0)
    # Each page needs a seq of its own above the destination's watermark and at most the source's.
    pages = max(1, min(-(-missing // page), top - have))
    size = -(-missing // pages) if missing else 0
    digest = _Digest(advance, page)
    pending: list[Point] = []
    sent = 0
    for point in source.between(stream, FIRST_STAMP):
        digest.add(_POINT.pack(*point))
        if last is not None and point[0] <= last[0]:
            continue
        pending.append(point)
        if len(pending) == size and sent < pages - 1:
            destination.append(stream, [(top - (pages - 1 - sent), pending)])
            pending, sent = [], sent + 1
    if top > have:  # the rest, and the watermark: also for a stream whose blinks are all there
        destination.append(stream, [(top, pending)])
    return digest.figures(top if top >= 0 else None)


def event_figures(store: Events, advance: Callable[[int], None] = lambda n: None) -> SideFigures:
    digest = _Digest(advance)
    for entry in store.entries():
        digest.add(entry.line())
    return digest.figures()


def copy_events(source: Events, destination: Events, page: int,
                advance: Callable[[int], None] = lambda n: None) -> SideFigures:
    """Append to `destination` the source's events after as many as it holds; the source's figures."""
    have = destination.count
    digest = _Digest(advance, page)
    pending: list[EventEntry] = []
    for number, entry in enumerate(source.entries()):
        digest.add(entry.line())
        if number >= have:
            pending.append(entry)
        if len(pending) == page:
            destination.append_many(pending)
            pending = []
    if pending:
        destination.append_many(pending)
    return digest.figures()
