"""Typed arrays sent to PostgreSQL in its binary array format (servidor/store/postgres/binary_arrays.py):
what the database reads back is exactly what was sent, at the edges of each type."""
from __future__ import annotations

import math
from array import array

import pytest

from servidor.store.postgres.binary_arrays import Float8Array, Int2Array, Int8Array, pack
from tests import postgres


@pytest.fixture(scope="module")
def conn():
    postgres.require()
    import psycopg

    with psycopg.connect(postgres.URL, autocommit=True) as connection:
        yield connection


def test_integers_and_floats_come_back_as_sent_at_the_edges_of_their_types(conn):
    int8 = array("q", [0, 1, -1, 2**63 - 1, -2**63, 1_788_224_400_123])
    int2 = array("h", [0, 1, -1, 32767, -32768])
    float8 = array("d", [0.0, -0.0, 1.5, -2.25, 1e308, 5e-324, 0.1 + 0.2, 123456.789])
    row = conn.execute("SELECT %b, %b, %b, pg_typeof(%b)::text",
                       (Int8Array(int8), Int2Array(int2), Float8Array(float8), Float8Array(float8))).fetchone()
    assert row[0] == list(int8) and row[1] == list(int2) and row[3] == "double precision[]"
    assert [x.hex() for x in row[2]] == [x.hex() for x in float8]   # bit for bit, -0.0 included


def test_nan_arrives_as_nan_and_an_empty_array_as_an_empty_array(conn):
    row = conn.execute("SELECT %b, cardinality(%b)", (Float8Array(array("d", [math.nan, 2.0])),
                                                      Int8Array(array("q")))).fetchone()
    assert math.isnan(row[0][0]) and row[0][1] == 2.0 and row[1] == 0


def test_a_thousand_readings_columns_unnest_side_by_side(conn):
    ts = array("q", range(1_788_224_400_000, 1_788_224_400_000 + 10_000_000, 10_000))
    energy = array("d", [i * 2.1337 for i in range(1000)])
    rows = conn.execute("SELECT t, e FROM unnest(%b, %b) AS u (t, e)", (Int8Array(ts), Float8Array(energy))).fetchall()
    assert rows == list(zip(ts, energy))


def test_an_array_of_the_wrong_width_is_refused_before_anything_is_sent():
    with pytest.raises(TypeError, match="bytes por item"):
        pack(array("i", [1, 2]), Int8Array.kind)
