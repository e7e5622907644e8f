"""The agent's spool: durable append, acknowledgement, bound, torn tails, and a Hypothesis model."""
from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from medidor.spool import Spool, SpoolDamaged, SpoolFull, SpoolRecord
from medidor.spool.records import encode


def rec(seq: int, size: int = 20) -> SpoolRecord:
    return SpoolRecord(seq, json.dumps({"seq": seq, "x": "a" * size}).encode())


def test_records_come_back_oldest_first_and_leave_only_when_acked(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([rec(0), rec(1), rec(2)])
        assert [r.seq for r in spool.peek(10)] == [0, 1, 2]
        assert [r.seq for r in spool.peek(2)] == [0, 1]
        assert spool.ack_through(1) == 2
        assert [r.seq for r in spool.peek(10)] == [2]
        assert spool.pending == 1


def test_reopen_keeps_unacked_and_forgets_acked(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([rec(i) for i in range(5)])
        spool.ack_through(2)
    with Spool(tmp_path) as spool:
        assert [r.seq for r in spool.peek(10)] == [3, 4]
        assert spool.last_seq == 4 and spool.acked_seq == 2


def test_last_record_survives_when_everything_is_acked(tmp_path: Path) -> None:
    # A restarted meter resumes its counter from the last reading, sent or not.
    with Spool(tmp_path, segment_bytes=100) as spool:
        spool.append([rec(i) for i in range(10)])
        spool.ack_through(9)
    with Spool(tmp_path) as spool:
        assert spool.pending == 0
        assert spool.last_seq == 9
        assert json.loads(spool.last_payload)["seq"] == 9


def test_seq_must_increase(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([rec(5)])
        with pytest.raises(ValueError):
            spool.append([rec(5)])
        with pytest.raises(ValueError):
            spool.append([rec(7), rec(6)])
        assert spool.pending == 1


def test_bound_refuses_whole_append_and_frees_on_ack(tmp_path: Path) -> None:
    with Spool(tmp_path, max_records=3) as spool:
        spool.append([rec(0), rec(1)])
        with pytest.raises(SpoolFull, match="spool cheio"):
            spool.append([rec(2), rec(3)])
        assert spool.pending == 2
        spool.append([rec(2)])
        assert spool.free == 0 and spool.fill_ratio == 1.0
        spool.ack_through(0)
        spool.append([rec(3)])
        assert [r.seq for r in spool.peek(10)] == [1, 2, 3]


def test_acked_segments_are_deleted(tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=200) as spool:
        for i in range(40):
            spool.append([rec(i)])
        segments = sorted(tmp_path.glob("*.seg"))
        assert len(segments) > 5
        spool.ack_through(35)
        left = sorted(tmp_path.glob("*.seg"))
        assert len(left) <= 3
        assert [r.seq for r in spool.peek(10)] == [36, 37, 38, 39]
    with Spool(tmp_path, segment_bytes=200) as spool:
        assert [r.seq for r in spool.peek(10)] == [36, 37, 38, 39]


def test_torn_tail_at_every_byte_keeps_a_prefix_of_whole_records(tmp_path: Path) -> None:
    source = tmp_path / "whole"
    with Spool(source) as spool:
        spool.append([rec(0)])
        spool.append([rec(1), rec(2)])
    data = (source / "000000000000.seg").read_bytes()
    size = len(rec(0).payload) + 16
    record_ends = [size, 2 * size, 3 * size]
    for cut in range(len(data) + 1):
        target = tmp_path / f"cut{cut}"
        target.mkdir()
        (target / "000000000000.seg").write_bytes(data[:cut])
        with Spool(target) as spool:
            whole = sum(1 for end in record_ends if end <= cut)
            assert [r.seq for r in spool.peek(10)] == list(range(whole))
            # A new append after recovery lands after the surviving records, not behind garbage.
            spool.append([rec(10)])
        with Spool(target) as spool:
            assert [r.seq for r in spool.peek(10)] == list(range(whole)) + [10]


def test_flipped_byte_in_a_record_refuses_to_open_instead_of_dropping_what_follows(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([rec(0), rec(1), rec(2)])
    path = tmp_path / "000000000000.seg"
    data = bytearray(path.read_bytes())
    size = len(rec(0).payload) + 16
    data[size + 20] ^= 0xFF  # inside record 1's payload
    path.write_bytes(bytes(data))
    with pytest.raises(SpoolDamaged, match=f"posição {size}"):
        Spool(tmp_path)
    assert path.read_bytes() == bytes(data)  # record 2 is still there for `medidor reparar`


class SpoolModel(RuleBasedStateMachine):
    """Any sequence of append / ack / crash-and-reopen (with a torn write) never loses an unacked
    record, never hands out an acked one, and never lets a seq that may have left be used again."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[int] = []
        self.next_seq = 0
        self.acked_max: int | None = None
        self.highest: int | None = None  # the highest seq that may have left the spool
        # Spools abandoned by a simulated kill -9: their descriptors are closed at the end only,
        # or ~1700 of them would stay open for the rest of the test session (past select()'s
        # FD_SETSIZE, which pyserial and others use).
        self.abandoned: list[Spool] = []
        # (segment, its size before, bytes) of the partial append the last crash left behind.
        self.garbage: tuple[Path, int, int] | None = None

    @initialize(directory=st.builds(lambda: None))
    def open(self, directory: None) -> None:
        import tempfile

        self.tmp = tempfile.TemporaryDirectory()
        self.path = Path(self.tmp.name)
        self.spool = Spool(self.path, max_records=50, segment_bytes=300)

    def teardown(self) -> None:
        self.spool.close()
        for spool in self.abandoned:
            spool.close()
        self.tmp.cleanup()

    @rule(count=st.integers(1, 8), gap=st.integers(0, 3), size=st.integers(0, 60))
    def append(self, count: int, gap: int, size: int) -> None:
        records = [rec(self.next_seq + gap + i, size) for i in range(count)]
        if len(records) > self.spool.free:
            with pytest.raises(SpoolFull):
                self.spool.append(records)
            return
        self.spool.append(records)
        self.garbage = None  # the spool cut the previous crash's partial append before writing
        self.pending += [r.seq for r in records]
        self.next_seq = records[-1].seq + 1
        self.highest = records[-1].seq

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        upto = data.draw(st.sampled_from(self.pending))
        acked = self.spool.ack_through(upto)
        assert acked == sum(1 for s in self.pending if s <= upto)
        self.pending = [s for s in self.pending if s > upto]
        self.acked_max = upto

    @rule(count=st.integers(1, 4), cut=st.integers(0, 10_000), zeros=st.booleans())
    def crash_and_reopen(self, count: int, cut: int, zeros: bool) -> None:
        # No close: the object is abandoned as a kill -9 would. The append that was running
        # left a prefix of its bytes at the end of the newest segment (or, after a power cut,
        # zeros where the file grew); whole records in that prefix are kept, the rest is cut.
        # A crash before any append since the last one: the spool writes at the end of what it
        # holds, after cutting a previous partial append, so crashed bytes never pile up.
        if self.garbage is not None:
            path, clean, size = self.garbage
            if path.exists() and path.stat().st_size == clean + size:
                os.truncate(path, clean)
            self.garbage = None
        segments = sorted(self.path.glob("*.seg"))
        records = [rec(self.next_seq + i) for i in range(count)]
        data = b"".join(encode(r) for r in records)
        cut %= len(data)
        if segments:
            clean = segments[-1].stat().st_size
            with open(segments[-1], "ab") as f:
                f.write(bytes(cut) if zeros else data[:cut])
            kept = 0  # whole records in the prefix: the spool keeps them as pending
            for record in ([] if zeros else records):
                if kept + len(encode(record)) > cut:
                    break
                kept += len(encode(record))
            if cut > kept:
                self.garbage = (segments[-1], clean + kept, cut - kept)
        self.abandoned.append(self.spool)
        self.spool = Spool(self.path, max_records=50, segment_bytes=300)
        if segments and not zeros:
            ends = list(itertools.accumulate(len(encode(r)) for r in records))
            whole = [r.seq for r, end in zip(records, ends) if end <= cut]
            self.pending += whole
            # The next record's 16-byte header (length, seq, CRC) is whole: its seq is readable.
            torn = len(whole) < count and cut >= (ends[len(whole) - 1] if whole else 0) + 16
            if whole or torn:
                self.highest = whole[-1] if not torn else records[len(whole)].seq
        self.next_seq = (self.spool.last_seq + 1) if self.spool.last_seq is not None else self.next_seq

    @invariant()
    def nothing_lost_nothing_repeated(self) -> None:
        seen = [r.seq for r in self.spool.peek(100)]
        assert seen == self.pending
        assert self.spool.pending == len(self.pending)
        if self.acked_max is not None:
            assert all(s > self.acked_max for s in seen)
        if self.highest is not None:
            assert self.spool.last_seq is not None and self.spool.last_seq >= self.highest


SpoolModel.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestSpoolModel = SpoolModel.TestCase
