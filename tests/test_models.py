"""The Reading model: JSON parsing agrees with the constructor's own checks."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from shared.models import MAX_COUNTER_WH, InvalidReading, Reading, parse_timestamp_ms

values = st.one_of(st.integers(-2, 2**64), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.none(), st.text(max_size=5))
ts_values = st.one_of(st.integers(0, 2**54), st.just("2026-10-05T10:00:00-03:00"), st.just("2026-10-05T10:00:00"),
                      st.just("ontem"), st.floats(allow_nan=True), st.booleans())


def expected(seq, ts, energia, potencia):
    """What the constructor says about the same values, typed as from_json types them."""
    if type(energia) not in (int, float) or (potencia is not None and type(potencia) not in (int, float)):
        return InvalidReading
    try:
        return Reading(seq, parse_timestamp_ms(ts), float(energia), None if potencia is None else float(potencia))
    except (InvalidReading, OverflowError):
        return InvalidReading


@given(seq=values, ts=ts_values, energia=values, potencia=values)
def test_from_json_accepts_exactly_what_the_constructor_accepts(seq, ts, energia, potencia):
    want = expected(seq, ts, energia, potencia)
    if want is InvalidReading:
        with pytest.raises(InvalidReading):
            Reading.from_json({"seq": seq, "ts": ts, "energia_wh": energia, "potencia_w": potencia})
    else:
        assert Reading.from_json({"seq": seq, "ts": ts, "energia_wh": energia, "potencia_w": potencia}) == want


def test_json_round_trip_with_measurements():
    obj = {"seq": 3, "ts": "2026-10-05T10:00:00-03:00", "energia_wh": 12.5, "potencia_w": -300, "TPF": [230, 231, 229],
           "FRE": 60.0, "estimada": True}
    reading = Reading.from_json(obj)
    assert reading.medidas == (("FRE", 60.0), ("TPF", (230.0, 231.0, 229.0)))
    assert Reading.from_json(reading.to_json()) == reading


@pytest.mark.parametrize("obj, reason", [
    ([], "objeto"), ({"ts": 1, "energia_wh": 1}, "seq"), ({"seq": True, "ts": 1_790_000_000_000, "energia_wh": 1}, "seq"),
    ({"seq": 1, "ts": 1_790_000_000_000, "energia_wh": math.inf}, "energia_wh"),
    ({"seq": 1, "ts": 1_790_000_000_000, "energia_wh": MAX_COUNTER_WH * 2}, "energia_wh"),
    ({"seq": 1, "ts": 1_790_000_000_000, "energia_wh": 1, "XYZ": 1}, "XYZ"),
    ({"seq": 1, "ts": 1_790_000_000_000, "energia_wh": 1, "estimada": "sim"}, "estimada"),
    ({"seq": 1, "ts": 100, "energia_wh": 1}, "2000"),
])
def test_bad_readings_say_why(obj, reason):
    with pytest.raises(InvalidReading, match=reason):
        Reading.from_json(obj)
