"""Byte formats of the readings store: journal records, measurement blobs, segments, headers."""
from __future__ import annotations

import math
import random
import struct
from array import array

import pytest
from hypothesis import given, settings, strategies as st

from shared.models import MAX_COUNTER_WH, MAX_POWER_W, MEASUREMENT_CODES, Reading
from servidor.store.readings import StoreCorrupt
from servidor.store.readings.block import Columns
from servidor.store.readings.codec import (
    HEADER_SIZE, JOURNAL_MAGIC, SEGMENT_MAGIC, SEGMENT_VERSION, Accumulator, check_header, encode_batch,
    encode_tombstone, file_header, gather,
)
from servidor.store.readings.medidas import decode_medidas, encode_medidas
from servidor.store.readings.segment_codec import (
    CHUNK_READINGS, COMPRESS_LZMA, COMPRESS_ZLIB, SegmentMeter, decode_segment, encode_segment, encode_segment_v1,
    scan_segment,
)

T0 = 1_700_000_000_000
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
measurement = st.one_of(finite, st.lists(finite, min_size=1, max_size=4).map(tuple))
medidas = st.dictionaries(st.sampled_from(sorted(MEASUREMENT_CODES)), measurement, max_size=5).map(
    lambda d: tuple(sorted(d.items())))
readings_st = st.builds(
    Reading,
    seq=st.integers(0, 2**63 - 1),
    ts_ms=st.integers(946_684_800_000, 2**53 - 1),
    energia_wh=st.floats(min_value=0, max_value=MAX_COUNTER_WH),
    potencia_w=st.none() | st.floats(min_value=-MAX_POWER_W, max_value=MAX_POWER_W),
    medidas=medidas,
    estimada=st.booleans(),
)


def frames(data: bytes, torn_allowed: bool = True) -> tuple[list[int], int, int]:
    """(seqs of the intact records, damaged places, bytes of torn tail) in `data`."""
    blocks: dict[str, Accumulator] = {}
    scan = gather(data, 0, blocks, print, tail_may_be_torn=torn_allowed)
    seqs = [s for block in blocks.values() for s in block.columns().seq]
    return seqs, len(scan.damages), scan.torn


def decode(data: bytes) -> tuple[dict[str, Columns], list[str]]:
    blocks: dict[str, Accumulator] = {}
    tombstones: list[str] = []
    scan = gather(data, 0, blocks, tombstones.append)
    assert scan.end == len(data) and not scan.damages and not scan.torn
    return {meter: block.columns() for meter, block in blocks.items()}, tombstones


def same_columns(a: Columns, b: Columns) -> bool:
    # Bytes, not values: NaN (no power) and -0.0 must survive exactly.
    return (a.seq == b.seq and a.ts == b.ts and a.energia.tobytes() == b.energia.tobytes()
            and a.potencia.tobytes() == b.potencia.tobytes() and a.flags == b.flags and a.medidas == b.medidas)


@given(st.lists(readings_st, min_size=1, max_size=30), st.text(min_size=1, max_size=40))
def test_batch_record_round_trips_every_reading_field(readings, meter_id):
    cols = Columns.from_readings(readings)
    blocks, _ = decode(encode_batch(meter_id.encode(), cols))
    back = blocks[meter_id]
    assert same_columns(back, cols)
    assert [back.reading(i) for i in range(len(back))] == readings


def test_tombstone_record_round_trips():
    assert decode(encode_tombstone("medidor-1".encode())) == ({}, ["medidor-1"])


def test_gather_keeps_record_order_per_meter_and_reports_tombstones_in_place():
    one = Columns.from_readings([Reading(1, T0, 1.0)])
    two = Columns.from_readings([Reading(2, T0 + 1, 2.0, None, (("PAT", 5.0),))])
    data = encode_batch(b"a", one) + encode_batch(b"b", one) + encode_tombstone(b"a") + encode_batch(b"a", two)
    blocks: dict[str, Accumulator] = {}
    events = []

    def on_tombstone(meter):
        events.append((meter, len(blocks.pop(meter).columns())))

    assert gather(data, 0, blocks, on_tombstone).end == len(data)
    assert events == [("a", 1)]
    assert blocks["a"].columns().reading(0) == two.reading(0) and len(blocks["b"].columns()) == 1


@given(medidas)
def test_medidas_blob_round_trips(value):
    assert decode_medidas(encode_medidas(value)) == value


def test_medidas_with_a_code_unknown_to_this_version_are_kept_by_name():
    value = (("NOVO", 1.5), ("PAT", (1.0, 2.0, 3.0)))
    assert decode_medidas(encode_medidas(value)) == value


def test_damaged_medidas_blob_is_reported_as_corrupt():
    with pytest.raises(StoreCorrupt):
        decode_medidas(encode_medidas((("PAT", 1.0),))[:-1])


def record(seq: int) -> bytes:
    return encode_batch(b"m", Columns.from_readings([Reading(seq, T0 + seq, float(seq))]))


def test_a_damaged_record_in_the_middle_is_reported_and_the_records_after_it_are_read():
    bad = bytearray(record(2))
    bad[-1] ^= 0xFF
    assert frames(record(1) + bytes(bad) + record(3)) == ([1, 3], 1, 0)


def test_every_truncation_of_the_last_record_is_a_torn_tail_where_allowed_and_damage_elsewhere():
    whole = record(0) + record(1) + record(2)
    last_start = len(whole) - len(record(2))
    for cut in range(last_start + 1, len(whole)):
        assert frames(whole[:cut]) == ([0, 1], 0, cut - last_start)
        assert frames(whole[:cut], torn_allowed=False) == ([0, 1], 1, 0)
    assert frames(whole) == ([0, 1, 2], 0, 0)


def test_zeroed_tail_left_by_a_crash_is_a_torn_tail():
    assert frames(record(1) + bytes(64)) == ([1], 0, 64)


def test_a_flipped_bit_in_the_last_record_is_damage_not_a_torn_tail():
    whole = record(1) + record(2)
    start = len(record(1))
    for pos in range(start, len(whole)):
        for bit in range(8):
            data = bytearray(whole)
            data[pos] ^= 1 << bit
            seqs, damaged, torn = frames(bytes(data))
            assert (seqs, damaged, torn) == ([1], 1, 0), (pos, bit)


def sorted_block(readings: list[Reading]) -> Columns:
    unique = {r.seq: r for r in readings}.values()
    return Columns.from_readings(sorted(unique, key=lambda r: (r.ts_ms, r.seq)))


@given(st.lists(st.tuples(st.text(min_size=1, max_size=10), st.booleans(),
                          st.lists(readings_st, max_size=20)), max_size=4, unique_by=lambda m: m[0]),
       st.sampled_from([COMPRESS_ZLIB, COMPRESS_LZMA]))
@settings(deadline=None)
def test_segment_round_trips_meters_columns_and_tombstones(meters, compression):
    segment = [SegmentMeter(m, tomb, sorted_block(rs)) for m, tomb, rs in meters]
    for encode in (encode_segment, encode_segment_v1):
        back = regroup(decode_segment(encode(segment, compression)))
        # The framed format writes nothing for a meter without readings or tombstone.
        want = [m for m in segment if m.tombstone or len(m.columns) or encode is encode_segment_v1]
        assert [(m.meter_id, m.tombstone) for m in back] == [(m.meter_id, m.tombstone) for m in want]
        for got, expected in zip(back, want, strict=True):
            assert same_columns(got.columns, expected.columns)


def regroup(entries: list[SegmentMeter]) -> list[SegmentMeter]:
    """A framed segment holds a meter as a tombstone entry and chunks: one entry per meter again."""
    out: list[SegmentMeter] = []
    for entry in entries:
        if out and out[-1].meter_id == entry.meter_id and not entry.tombstone:
            acc = Accumulator()
            acc.add_columns(out[-1].columns)
            acc.add_columns(entry.columns)
            out[-1] = SegmentMeter(entry.meter_id, out[-1].tombstone, acc.columns())
        else:
            out.append(entry)
    return out


def test_a_long_meter_is_cut_into_chunks_that_read_back_whole():
    cols = ten_second_meter(2 * CHUNK_READINGS + 5, 3)
    entries = decode_segment(encode_segment([SegmentMeter("m", False, cols)]))
    assert [len(e.columns) for e in entries] == [CHUNK_READINGS, CHUNK_READINGS, 5]
    assert same_columns(regroup(entries)[0].columns, cols)


@given(st.lists(st.floats(min_value=0, max_value=1e9, allow_nan=False), min_size=1, max_size=50),
       st.integers(0, 6))
def test_decimal_float_columns_round_trip_bit_for_bit(values, places):
    rounded = [round(v, places) for v in values]
    cols = Columns(array("q", range(len(values))), array("q", range(T0, T0 + len(values))), array("d", rounded),
                   array("d", [math.nan] * len(values)), array("B", bytes(len(values))))
    [back] = decode_segment(encode_segment([SegmentMeter("m", False, cols)]))
    assert same_columns(back.columns, cols)


def ten_second_meter(n: int, decimals: int | None) -> Columns:
    rng = random.Random(7)
    energy, seqs, ts, energia, potencia = 1_000_000.0, [], [], [], []
    for i in range(n):
        energy += rng.uniform(2, 5)
        seqs.append(i + 1)
        ts.append(T0 + 10_000 * i)
        power = 1000 + rng.gauss(0, 50)
        energia.append(energy if decimals is None else round(energy, decimals))
        potencia.append(power if decimals is None else round(power, decimals))
    return Columns(array("q", seqs), array("q", ts), array("d", energia), array("d", potencia), array("B", bytes(n)))


@pytest.mark.parametrize("decimals", [None, 3, 1])
def test_a_ten_second_meter_takes_at_most_16_bytes_a_reading_in_a_segment(decimals):
    n = 20_000
    data = encode_segment([SegmentMeter("m", False, ten_second_meter(n, decimals))])
    assert len(data) / n <= 16


def test_header_with_another_magic_is_refused():
    with pytest.raises(StoreCorrupt, match="assinatura"):
        check_header(file_header(JOURNAL_MAGIC), SEGMENT_MAGIC, "x")


def test_header_of_a_newer_format_is_refused_saying_so():
    newer = struct.pack("<4sHH", SEGMENT_MAGIC, SEGMENT_VERSION + 1, 0)
    with pytest.raises(StoreCorrupt, match="mais nova"):
        check_header(newer, SEGMENT_MAGIC, "x", SEGMENT_VERSION)


def test_a_flipped_bit_costs_one_chunk_of_a_segment_and_names_it():
    cols = ten_second_meter(3 * CHUNK_READINGS, 3)
    data = encode_segment([SegmentMeter("m", False, cols)])
    first_end = scan_segment(data).spans[0][1]
    damaged = bytearray(data)
    damaged[first_end + 40] ^= 1  # inside the second chunk
    found = scan_segment(bytes(damaged), "segment-0000000001.seg")
    assert [len(m.columns) for m in found.meters] == [CHUNK_READINGS, CHUNK_READINGS]
    [damage] = found.damages
    assert damage.file == "segment-0000000001.seg" and damage.offset == first_end
    assert f"{CHUNK_READINGS} leitura(s) do medidor 'm'" in damage.lost


def test_any_damage_in_an_old_one_block_segment_loses_that_segment_and_says_so():
    data = bytearray(encode_segment_v1([SegmentMeter("m", False, ten_second_meter(100, 3))]))
    data[HEADER_SIZE + 20] ^= 1
    found = scan_segment(bytes(data))
    assert found.meters == () and "segmento inteiro" in found.damages[0].lost
