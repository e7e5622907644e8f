"""Opening a store directory: every file read in number order, all damage gathered before
anything on disk is changed.

Only the active journal (the highest-numbered file, when it is a journal) may end in a torn
record; it is cut once the rest is known to be whole. Damage anywhere else, or a torn record
anywhere but there, stops the open with StoreDamaged: silently dropping a damaged record and
everything after it is how acknowledged readings used to vanish.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .codec import Accumulator
from .deleted import DeletedStreams
from .errors import Damage
from .files import scan
from .journal import replay_journal
from .segment_codec import scan_segment


@dataclass
class Recovered:
    """What the files hold. `blocks`: readings per live key (not yet sorted); `segment_keys`:
    the keys in each segment; `torn`: (active journal, where its intact records end) if a torn
    record follows; `stale_journals`: journals already compacted (a crash came between the
    segment and the journal's removal); `last`: the highest file number and whether it is a
    journal."""

    deleted: DeletedStreams
    blocks: dict[str, Accumulator] = field(default_factory=dict)
    segment_keys: dict[int, frozenset[str]] = field(default_factory=dict)
    damages: list[Damage] = field(default_factory=list)
    torn: tuple[Path, int] | None = None
    stale_journals: list[Path] = field(default_factory=list)
    last: tuple[int, bool] = (0, False)

    def on_tombstone(self, meter_id: str) -> None:
        """A legacy tombstone voids what was gathered for its meter so far."""
        self.blocks.pop(meter_id, None)

    def _block(self, meter_id: str) -> Accumulator:
        block = self.blocks.get(meter_id)
        if block is None:
            block = self.blocks[meter_id] = Accumulator()
        return block

    def load_segment(self, number: int, path: Path) -> None:
        found = scan_segment(path.read_bytes(), path.name)
        self.damages += found.damages
        keys = set()
        for meter in found.meters:
            keys.add(meter.meter_id)
            if meter.tombstone:
                self.blocks.pop(meter.meter_id, None)
            if len(meter.columns):
                self._block(meter.meter_id).add_columns(meter.columns)
        self.segment_keys[number] = frozenset(keys)


def recover(directory: Path, durable: bool) -> Recovered:
    """Read every file of the store in `directory` (leftover temp files are removed first)."""
    journals, segments = scan(directory, remove_temps=True)
    deleted, damages = DeletedStreams.load(directory, durable)
    found = Recovered(deleted, damages=list(damages))
    numbers = sorted(journals.keys() | segments.keys())
    last = numbers[-1] if numbers else 0
    found.last = (last, last in journals)
    for number in numbers:
        if number in segments:
            found.load_segment(number, segments[number])
            if number in journals:
                found.stale_journals.append(journals[number])
            continue
        active = number == last
        scanned = replay_journal(journals[number], found.blocks, found.on_tombstone, tail_may_be_torn=active)
        found.damages += scanned.damages
        if scanned.torn:
            found.torn = (journals[number], scanned.end)
    for key in deleted.keys:
        found.blocks.pop(key, None)
    return found
