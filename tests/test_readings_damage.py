"""Damaged readings files (issue 8, finding 9): detected, reported and contained, never silently
truncated. The store refuses to open (naming file, offset and what is lost); `servidor reparar`
keeps every intact record, also those after the damage, and the original aside."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from shared.models import Reading
from servidor.store.readings import BUCKET_MS, ReadingStore, StoreDamaged
from servidor.store.readings import frames
from servidor.store.readings.block import Columns
from servidor.store.readings.codec import (
    HEADER_SIZE, Accumulator, check_record, describe_record, encode_batch, gather, journal_plausible,
)
from servidor.store.readings.files import journal_path, scan, segment_path
from servidor.store.readings.deleted import scan_deleted
from servidor.store.readings.journal import create_journal
from servidor.store.readings.segment_codec import SegmentMeter, encode_segment_v1, scan_segment
from servidor.store.repair import ASIDE_DIR, repair_readings

T0 = 1_700_000_000_000 - 1_700_000_000_000 % BUCKET_MS
KEYS = ("a", "b", "c~1")
# Bytes 4-5 of every header are the format version: a flipped bit there reads as a newer
# format, which is refused with its own exit code (5, "atualize") and cannot be told from one.
VERSION_BYTES = range(4, 6)


def reading(seq: int, key: str) -> Reading:
    medidas = (("PAT", (1.0, 2.0, float(seq))),) if seq % 7 == 0 else ()
    return Reading(seq, T0 + seq * 10_000, 1000.0 + seq * 2.5, None if seq % 5 == 0 else 700.0 + seq, medidas,
                   seq % 11 == 0)


def everything(store: ReadingStore) -> dict[str, dict[int, Reading]]:
    return {key: {r.seq: r for r in store.after_seq(key, -1, limit=10**6)} for key in KEYS}


class Pristine(tuple):
    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"Pristine({self[0]})"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, dict[str, dict[int, Reading]]]:
    """Two segments (one with a meter long enough for several chunks) and an active journal of
    single, small and large appends: every kind of file and record a store holds."""
    directory = tmp_path_factory.mktemp("pristine")
    seq = {key: 0 for key in KEYS}

    def append(key: str, n: int) -> None:
        store.append(key, [reading(s, key) for s in range(seq[key] + 1, seq[key] + n + 1)])
        seq[key] += n

    with ReadingStore.open(directory, durable=False) as store:
        append("a", 4200)
        for _ in range(30):
            append("b", 1)
        store.compact()
        append("c~1", 40)
        append("a", 3)
        store.compact()
        for n in (1, 5, 1, 40, 1, 1, 12, 1):
            for key in KEYS:
                append(key, n)
        expected = everything(store)
    assert sorted(scan(directory)[1]) == [1, 2] and sorted(scan(directory)[0]) == [3]
    return Pristine((directory, expected))


def held_by_frame(path: Path, pos: int) -> dict[str, set[int]]:
    """The readings the frame around byte `pos` of a pristine file holds (none for the header)."""
    data = path.read_bytes()
    if path.name.startswith("segment-"):
        found = scan_segment(data)
        for (start, end), entry in zip(found.spans, found.meters, strict=True):
            if start <= pos < end:
                return {entry.meter_id: set(entry.columns.seq)}
        return {}
    found = frames.scan_frames(data, HEADER_SIZE, path.name, journal_plausible, check_record, describe_record)
    for start, end in found.spans:
        if start <= pos < end:
            blocks: dict[str, Accumulator] = {}
            gather(data[start:end], 0, blocks, print)
            return {key: set(block.columns().seq) for key, block in blocks.items()}
    return {}


def flip(path: Path, pos: int, bit: int) -> None:
    data = bytearray(path.read_bytes())
    data[pos] ^= 1 << bit
    path.write_bytes(bytes(data))


def check_flip(pristine, work: Path, name: str, fraction: float, bit: int) -> None:
    source, expected = pristine
    size = (source / name).stat().st_size
    pos = min(int(fraction * size), size - 1)
    assume(pos not in VERSION_BYTES)
    lost = held_by_frame(source / name, pos)
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    flip(work / name, pos, bit)
    damaged = (work / name).read_bytes()

    if 6 <= pos < HEADER_SIZE:  # the reserved header bytes carry nothing
        with ReadingStore.open(work, durable=False) as store:
            assert everything(store) == expected
        return
    with pytest.raises(StoreDamaged) as refused:
        ReadingStore.open(work, durable=False)
    assert (work / name).read_bytes() == damaged  # refusing changed nothing
    [damage] = refused.value.damages
    assert damage.file == name and damage.offset <= pos < damage.offset + damage.length
    assert "servidor reparar" in str(refused.value)

    report = repair_readings(work, durable=False)
    assert (work / ASIDE_DIR / f"{name}.{report.title.rsplit('(', 1)[1][:-1]}").read_bytes() == damaged
    with ReadingStore.open(work, durable=False) as store:
        after = everything(store)
    for key in KEYS:
        want = {s: r for s, r in expected[key].items() if s not in lost.get(key, set())}
        assert after[key] == want, (name, pos, bit, key)


@pytest.mark.parametrize("name", ["journal-0000000003.log", "segment-0000000001.seg", "segment-0000000002.seg"])
@given(fraction=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_flipped_bit_anywhere_costs_only_its_own_record_after_repair_and_refuses_start_before(
        pristine, tmp_path, name, fraction, bit):
    check_flip(pristine, tmp_path / "copia", name, fraction, bit)


def test_the_reported_case_a_byte_in_the_middle_of_1000_readings_costs_one_of_them(tmp_path):
    with ReadingStore.open(tmp_path, durable=False) as store:
        for seq in range(1, 1001):
            store.append("m", [Reading(seq, T0 + seq * 10_000, float(seq))])
    path = journal_path(tmp_path, 1)
    flip(path, path.stat().st_size // 2, 3)
    with pytest.raises(StoreDamaged) as refused:
        ReadingStore.open(tmp_path, durable=False)
    message = str(refused.value)
    assert "journal-0000000001.log, deslocamento" in message and "1 leitura(s) do medidor 'm'" in message
    assert "servidor reparar" in message

    report = repair_readings(tmp_path, durable=False)
    assert "999 registro(s) íntegro(s) mantido(s)" in report.text()
    assert report.report_path.read_text().startswith(report.title)
    with ReadingStore.open(tmp_path, durable=False) as store:
        assert store.count("m") == 999
        store.append("m", [Reading(1001, T0 + 1001 * 10_000, 1001.0)])  # and it takes new ones


def test_a_torn_record_at_the_end_of_a_closed_journal_is_damage_not_a_crash(tmp_path):
    # Journal 1 was closed by a rotation (fsynced whole) before journal 2 began: only the
    # active journal can end in a record a crash cut short.
    for number in (1, 2):
        create_journal(tmp_path, number, durable=False)
        with open(journal_path(tmp_path, number), "ab") as f:
            f.write(b"".join(encode_batch(b"m", Columns.from_readings([Reading(s, T0 + s, float(s))]))
                             for s in range(number * 10, number * 10 + 5)))
    closed = journal_path(tmp_path, 1)
    closed.write_bytes(closed.read_bytes()[:-5])
    with pytest.raises(StoreDamaged, match=closed.name):
        ReadingStore.open(tmp_path, durable=False).close()
    active = journal_path(tmp_path, 2)
    repair_readings(tmp_path, durable=False)
    active.write_bytes(active.read_bytes()[:-5])
    with ReadingStore.open(tmp_path, durable=False) as store:  # a torn tail where a crash can leave one
        assert [r.seq for r in store.after_seq("m", 0)] == [10, 11, 12, 13, 20, 21, 22, 23]


def test_damage_in_an_old_one_block_segment_is_reported_and_repair_sets_the_segment_aside(tmp_path):
    ReadingStore.open(tmp_path, durable=False).close()
    cols = Columns.from_readings([Reading(s, T0 + s, float(s)) for s in range(1, 50)])
    data = bytearray(encode_segment_v1([SegmentMeter("velho", False, cols)]))
    data[-4] ^= 0x10
    path = segment_path(tmp_path, 0)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreDamaged, match="segmento inteiro"):
        ReadingStore.open(tmp_path, durable=False)
    report = repair_readings(tmp_path, durable=False)
    assert not path.exists() and "segmento inteiro" in report.text()
    ReadingStore.open(tmp_path, durable=False).close()


def test_repair_refuses_while_the_store_is_open(tmp_path):
    from servidor.store.readings import StoreLocked
    with ReadingStore.open(tmp_path, durable=False):
        with pytest.raises(StoreLocked):
            repair_readings(tmp_path, durable=False)


def test_repair_of_an_undamaged_store_changes_nothing(pristine, tmp_path):
    source, expected = pristine
    shutil.copytree(source, tmp_path / "copia")
    report = repair_readings(tmp_path / "copia", durable=False)
    assert report.report_path is None and "nenhum dano" in report.text()
    assert not (tmp_path / "copia" / ASIDE_DIR).exists()
    for name in ("journal-0000000003.log", "segment-0000000001.seg"):
        assert (tmp_path / "copia" / name).read_bytes() == (source / name).read_bytes()


def test_a_damaged_deleted_streams_file_refuses_start_and_repair_keeps_its_intact_keys(tmp_path):
    with ReadingStore.open(tmp_path, durable=False) as store:
        for key in ("um", "dois", "tres"):
            store.append(key, [Reading(1, T0, 1.0)])
            store.delete_meter(key)
    path = tmp_path / "deleted-streams"
    found = scan_deleted(path.read_bytes())
    start, end = found.spans[1]
    flip(path, start + 9, 0)  # inside the key "dois"
    with pytest.raises(StoreDamaged, match="deleted-streams"):
        ReadingStore.open(tmp_path, durable=False)
    report = repair_readings(tmp_path, durable=False)
    assert "2 chave(s) apagada(s) mantida(s)" in report.text()
    with ReadingStore.open(tmp_path, durable=False) as store:
        assert store.is_deleted("um") and store.is_deleted("tres") and not store.is_deleted("dois")


def test_a_flipped_bit_in_the_lock_file_is_written_over_it_holds_no_data(tmp_path):
    with ReadingStore.open(tmp_path, durable=False) as store:
        store.append("m", [Reading(1, T0, 1.0)])
    flip(tmp_path / "LOCK", 1, 2)
    with ReadingStore.open(tmp_path, durable=False) as store:
        assert store.count("m") == 1
