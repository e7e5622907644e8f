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
    FORMAT_VERSION, HEADER_SIZE, JOURNAL_MAGIC, SEGMENT_MAGIC, Accumulator, check_header, encode_batch,
    encode_tombstone, file_header, gather,
)
from servidor.store.readings.medidas import decode_medidas, encode_medidas
from servidor.store.readings.segment_codec import (
    COMPRESS_LZMA, COMPRESS_ZLIB, SegmentMeter, decode_segment, encode_segment,
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


def frames(data: bytes) -> int:
    """How many readings the intact records at the start of `data` hold."""
    blocks: dict[str, Accumulator] = {}
    gather(data, 0, blocks, print)
    return sum(len(block.columns()) for block in blocks.values())


def decode(data: bytes) -> tuple[dict[str, Columns], list[str]]:
    blocks: dict[str, Accumulator] = {}
    tombstones: list[str] = []
    assert gather(data, 0, blocks, tombstones.append) == len(data)
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

    assert gather(data, 0, blocks, on_tombstone) == len(data)
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


def test_frames_stop_at_a_record_whose_crc_does_not_match():
    cols = Columns.from_readings([Reading(1, T0, 1.0)])
    good = encode_batch(b"m", cols)
    bad = bytearray(encode_batch(b"m", cols))
    bad[-1] ^= 0xFF
    assert (frames(good + bytes(bad) + good)) == 1


def test_frames_stop_at_every_truncation_of_the_last_record():
    records = [encode_batch(b"m", Columns.from_readings([Reading(i, T0 + i, float(i))])) for i in range(3)]
    whole = b"".join(records)
    last_start = len(whole) - len(records[-1])
    for cut in range(last_start, len(whole)):
        assert (frames(whole[:cut])) == 2
    assert (frames(whole)) == 3


def test_zeroed_tail_left_by_a_crash_is_not_a_record():
    whole = encode_batch(b"m", Columns.from_readings([Reading(1, T0, 1.0)]))
    assert (frames(whole + bytes(64))) == 1


def sorted_block(readings: list[Reading]) -> Columns:
    unique = {r.seq: r for r in readings}.values()
    return Columns.from_readings(sorted(unique, key=lambda r: (r.ts_ms, r.seq)))


@given(st.lists(st.tuples(st.text(min_size=1, max_size=10), st.booleans(),
                          st.lists(readings_st, max_size=20)), max_size=4),
       st.sampled_from([COMPRESS_ZLIB, COMPRESS_LZMA]))
@settings(deadline=None)
def test_segment_round_trips_meters_columns_and_tombstones(meters, compression):
    segment = [SegmentMeter(m, tomb, sorted_block(rs)) for m, tomb, rs in meters]
    back = decode_segment(encode_segment(segment, compression))
    assert [(m.meter_id, m.tombstone) for m in back] == [(m.meter_id, m.tombstone) for m in segment]
    for got, want in zip(back, segment):
        assert same_columns(got.columns, want.columns)


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
    newer = struct.pack("<4sHH", SEGMENT_MAGIC, FORMAT_VERSION + 1, 0)
    with pytest.raises(StoreCorrupt, match="mais nova"):
        check_header(newer, SEGMENT_MAGIC, "x")


def test_segment_with_a_flipped_bit_is_corrupt():
    data = bytearray(encode_segment([SegmentMeter("m", False, ten_second_meter(100, 3))]))
    data[HEADER_SIZE + 20] ^= 1
    with pytest.raises(StoreCorrupt):
        decode_segment(bytes(data))
