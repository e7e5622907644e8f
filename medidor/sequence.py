"""Reading sequence numbers: each seq is used once, ever, whatever happens to the disk.

The server stores each seq of a meter once and answers a seq it already has as a duplicate, so
a seq used twice is a reading lost. Two records keep them apart:
* the spool's `last_seq`, the highest seq that may have left this machine (it counts records
  acknowledged, pending, and dropped by a repair or a torn tail);
* the reservation in the state file: seqs below it are spoken for. It is raised and saved
  *before* any seq at or above it is spooled, so it stays ahead of everything ever sent, and a
  spool that is lost entirely (a wiped disk, a deleted directory) resumes above it.
"""
from __future__ import annotations

from typing import Callable

# Seqs reserved per state write: 100,000 is 11 days of 10-s readings, so the state file is
# rewritten every 11 days, or per ~4 s of a fast backfill.
SEQ_RESERVE = 100_000


class SeqNumbers:
    """The next seq to use and the reservation above it. `save(reserved)` makes a new
    reservation durable and raises OSError when it cannot."""

    def __init__(self, spool_last: int | None, reserved: int, save: Callable[[int], None]) -> None:
        self._next = reserved if spool_last is None else spool_last + 1
        self._reserved = max(reserved, self._next)
        self._save = save

    @property
    def next(self) -> int:
        return self._next

    @property
    def reserved(self) -> int:
        """Every seq below this may have been used; the state file says so."""
        return self._reserved

    def reserve_before(self, end: int) -> None:
        """Make sure seqs below `end` are reserved durably before any of them is spooled.
        The new reservation counts only once saved: a failed save is retried next time."""
        if end <= self._reserved:
            return
        wanted = end + SEQ_RESERVE
        self._save(wanted)
        self._reserved = wanted

    def used_up_to(self, end: int) -> None:
        """Seqs below `end` are spooled."""
        self._next = end
