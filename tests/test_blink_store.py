"""The blink store (servidor/store/blinks): durable, exactly once per reading seq, compact,
and the same answers from memory and from disk, before and after sealing and reopening."""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import given, strategies as st

from servidor.store.blinks import BlinkStore, BlinksDamaged, Hour
from servidor.store.blinks import store as store_module
from servidor.store.blinks.codec import decode_block, block_head, encode_block, hours_of, read_frame
from servidor.store.errors import StoreError

T0 = 1_764_460_800_000  # 2025-11-30T00:00:00Z, on an hour boundary
HOUR = 3_600_000


def blinks(count: int, start: int = T0, every: int = 3600, jitter: int = 0, seed: int = 1) -> list[tuple[int, int]]:
    """A meter blinking every `every` ms, the host stamp off by up to `jitter` ms."""
    rng = random.Random(seed)
    out, stamp = [], start
    for _ in range(count):
        ms = every + rng.randint(-jitter, jitter)
        stamp += ms
        out.append((stamp + rng.randint(0, jitter), ms))
    return out


@pytest.fixture(params=["disco", "memoria"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlinkStore]:
    s = BlinkStore.open(tmp_path / "db.pulsos") if request.param == "disco" else BlinkStore.memory()
    yield s
    s.close()


def test_block_codec_round_trips_points_and_their_hours():
    points = blinks(5000, jitter=40)
    data = encode_block(77, points)
    body, end = read_frame(data, 0)
    assert end == len(data)
    head = block_head(body)
    stamps, ms = decode_block(body, head)
    assert list(zip(stamps, ms)) == points
    assert (head.watermark, head.count, head.first_stamp, head.last_stamp) == (77, 5000, points[0][0], points[-1][0])
    assert list(head.hours) == hours_of(points)
    assert sum(h.events for h in head.hours) == 5000


def test_hours_of_counts_sums_and_bounds_each_utc_hour():
    points = [(T0 + 1000, 500), (T0 + 2000, 1000), (T0 + HOUR, 3000), (T0 + HOUR + 10, 10)]
    assert hours_of(points) == [Hour(T0, 2, 1500, 500, 1000), Hour(T0 + HOUR, 2, 3010, 10, 3000)]


def test_points_come_back_in_order_across_blocks_and_journal(store: BlinkStore, monkeypatch):
    monkeypatch.setattr(store_module, "BLOCK_POINTS", 1000)
    points = blinks(3500, jitter=20)
    for seq in range(35):
        assert store.append("m", [(seq, points[seq * 100:(seq + 1) * 100])]) == 100
    assert store.count("m") == 3500
    assert list(store.between("m", 0)) == points
    middle = points[1234][0]
    assert store.since("m", middle, 10) == points[1234:1244]
    assert list(store.between("m", points[990][0], points[2010][0])) == points[990:2010]
    assert store.last("m") == points[-1]
    assert sum(h.events for h in store.hours("m", 0, 2**62)) == 3500


def test_a_retried_seq_stores_nothing_twice(store: BlinkStore):
    points = blinks(10)
    assert store.append("m", [(1, points[:5]), (2, points[5:])]) == 10
    # The agent sends the same batch again (its answer was lost), then one reading more.
    assert store.append("m", [(1, points[:5]), (2, points[5:])]) == 0
    more = blinks(3, start=points[-1][0])
    assert store.append("m", [(1, points[:5]), (2, points[5:]), (3, more)]) == 3
    assert list(store.between("m", 0)) == points + more
    assert store.watermark("m") == 3


def test_blinks_that_do_not_move_forward_in_time_are_dropped_and_counted(store: BlinkStore):
    store.append("m", [(1, [(T0 + 5000, 100)])])
    store.append("m", [(2, [(T0 + 4000, 100), (T0 + 5000, 100), (T0 + 6000, 1000)])])
    assert list(store.between("m", 0)) == [(T0 + 5000, 100), (T0 + 6000, 1000)]
    assert store.stats()["pulsos_fora_de_ordem"] == 2


def test_everything_survives_a_reopen(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(store_module, "BLOCK_POINTS", 500)
    points = blinks(1300, jitter=30)
    s = BlinkStore.open(tmp_path / "p")
    for seq in range(13):
        s.append("casa", [(seq + 10, points[seq * 100:(seq + 1) * 100])])
    hours = s.hours("casa", 0, 2**62)
    s.close()
    again = BlinkStore.open(tmp_path / "p")
    assert list(again.between("casa", 0)) == points
    assert again.hours("casa", 0, 2**62) == hours
    assert again.watermark("casa") == 22
    assert again.append("casa", [(22, points[:1])]) == 0  # still exactly once after a restart


def test_a_crash_between_sealing_and_emptying_the_journal_loses_and_doubles_nothing(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(store_module, "BLOCK_POINTS", 300)
    points = blinks(400)
    s = BlinkStore.open(tmp_path / "p")
    s.append("m", [(1, points[:200])])
    journal = (tmp_path / "p" / "m" / store_module.JOURNAL_NAME).read_bytes()
    s.append("m", [(2, points[200:300])])  # seals 300 points and empties the journal
    s.close()
    # The crash: the block is written, but the journal still holds a frame the block took in.
    (tmp_path / "p" / "m" / store_module.JOURNAL_NAME).write_bytes(journal)
    again = BlinkStore.open(tmp_path / "p")
    assert list(again.between("m", 0)) == points[:300]
    again.append("m", [(3, points[300:])])
    assert list(again.between("m", 0)) == points


def test_a_torn_tail_is_cut_and_damage_refuses_to_open(tmp_path: Path):
    points = blinks(20)
    s = BlinkStore.open(tmp_path / "p")
    s.append("m", [(1, points[:10])])
    s.append("m", [(2, points[10:])])
    s.close()
    journal = tmp_path / "p" / "m" / store_module.JOURNAL_NAME
    whole = journal.read_bytes()
    journal.write_bytes(whole[:-7])  # an append that never returned
    assert list(BlinkStore.open(tmp_path / "p").between("m", 0)) == points[:10]
    damaged = bytearray(whole)
    damaged[20] ^= 0xFF
    journal.write_bytes(bytes(damaged))
    with pytest.raises(BlinksDamaged) as caught:
        BlinkStore.open(tmp_path / "p")
    assert isinstance(caught.value, StoreError) and "danificado" in caught.value.reason


def test_a_failed_write_stores_nothing(tmp_path: Path, monkeypatch):
    s = BlinkStore.open(tmp_path / "p")
    s.append("m", [(1, blinks(5))])

    def full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)  # a full disk at the moment of the write
    with pytest.raises(StoreError) as caught:
        s.append("m", [(2, blinks(5, start=T0 + 10 * HOUR))])
    assert "disco cheio" in caught.value.reason
    monkeypatch.undo()
    assert s.count("m") == 5 and s.watermark("m") == 1
    assert s.append("m", [(2, blinks(5, start=T0 + 10 * HOUR))]) == 5  # the retry stores it


def test_a_deleted_stream_is_gone_with_its_files(tmp_path: Path):
    s = BlinkStore.open(tmp_path / "p")
    s.append("m", [(1, blinks(5))])
    s.delete("m")
    assert s.last("m") is None and not (tmp_path / "p" / "m").exists()


def test_a_gap_longer_than_an_int32_is_stored_exactly(store: BlinkStore, monkeypatch):
    monkeypatch.setattr(store_module, "BLOCK_POINTS", 4)
    points = [(T0, 100), (T0 + 200, 200), (T0 + 40 * 86_400_000, 5000), (T0 + 40 * 86_400_000 + 900, 900)]
    store.append("m", [(1, points)])
    assert list(store.between("m", 0)) == points


@given(st.lists(st.tuples(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1)), min_size=1, max_size=300))
def test_any_block_of_forward_moving_blinks_round_trips(steps):
    stamp, points = T0, []
    for gap, ms in steps:
        stamp += gap
        points.append((stamp, ms))
    body, _ = read_frame(encode_block(1, points), 0)
    stamps, ms = decode_block(body, block_head(body))
    assert list(zip(stamps, ms)) == points


def test_bucket_counts_match_counting_every_point(store: BlinkStore, monkeypatch):
    monkeypatch.setattr(store_module, "BLOCK_POINTS", 500)
    points = blinks(2300, jitter=900, every=2000)
    for seq in range(23):
        store.append("m", [(seq, points[seq * 100:(seq + 1) * 100])])
    for start, width, count in ((T0, HOUR, 3), (T0 + 12_345, 60_000, 1000), (T0 - HOUR, 7 * HOUR, 1), (T0, 1, 50)):
        expected = [0] * count
        for stamp, _ in points:
            if start <= stamp < start + width * count:
                expected[(stamp - start) // width] += 1
        assert store.bucket_counts("m", start, width, count) == expected


def test_the_server_refuses_to_start_on_damaged_blinks_and_says_where(tmp_path: Path):
    from tests.server_process import run_cli  # noqa: PLC0415 (a subprocess, only here)

    s = BlinkStore.open(tmp_path / "db.pulsos")
    s.append("m", [(1, blinks(5))])
    s.close()
    journal = tmp_path / "db.pulsos" / "m" / store_module.JOURNAL_NAME
    damaged = bytearray(journal.read_bytes())
    damaged[20] ^= 0xFF
    journal.write_bytes(bytes(damaged))
    done = run_cli("--porta", "0", "--db", str(tmp_path / "db.json"))
    assert done.returncode == 4, done.stderr
    assert "arquivo de pulsos danificado" in done.stderr and "diario.dat" in done.stderr
