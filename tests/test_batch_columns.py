"""A batch checked column by column (servidor/domain/batch_columns.py) accepts exactly what the
per-reading check accepts, with the same values: whatever it does not take whole goes through
`Reading.from_json`, which gives each reason."""
from __future__ import annotations

import math

from hypothesis import given, settings, strategies as st

from servidor.domain.batch_columns import plain_batch
from servidor.domain.ingest import parse_batch
from shared.models import EARLIEST_TS_MS, MAX_FUTURE_SKEW_MS, InvalidReading, Reading

NOW = 1_750_000_000_000

# Values near and past every bound, of every JSON type (and a few a JSON decoder never makes,
# for callers that build the body themselves).
EDGES = {
    "seq": [-1, 0, 2**63 - 1, 2**63, True, 1.0, "1", None],
    "ts": [EARLIEST_TS_MS - 1, EARLIEST_TS_MS, NOW + MAX_FUTURE_SKEW_MS, NOW + MAX_FUTURE_SKEW_MS + 1, 2**53,
           2**53 - 1, float(NOW), "2024-01-01T00:00:00Z", False],
    "energia_wh": [0, -0.0, -1e-9, 1e14, 1e14 + 2, math.inf, -math.inf, math.nan, 10**400, True, None, "5"],
    "potencia_w": [0, -1e9, 1e9, -1e9 - 1, 1e9 + 1, math.inf, -math.inf, math.nan, 10**400, True, None, "5"],
}
valid = st.fixed_dictionaries({"seq": st.integers(0, 2**63 - 1), "ts": st.integers(EARLIEST_TS_MS, NOW),
                               "energia_wh": st.floats(0, 1e14) | st.integers(0, 10**14),
                               "potencia_w": st.floats(-1e9, 1e9) | st.integers(-10**9, 10**9)})


@st.composite
def spoiled(draw):
    """A valid batch with a few things changed: a value at or past a bound, a field dropped or
    added, an item that is not an object."""
    batch = [dict(item) for item in draw(st.lists(valid, min_size=1, max_size=6))]
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(batch) - 1))
        change = draw(st.sampled_from(["value", "value", "value", "drop", "add", "replace"]))
        if not isinstance(batch[i], dict):
            continue
        if change == "value":
            field = draw(st.sampled_from(sorted(EDGES)))
            batch[i][field] = draw(st.sampled_from(EDGES[field]))
        elif change == "drop":
            batch[i].pop(draw(st.sampled_from(sorted(EDGES))), None)
        elif change == "add":
            batch[i][draw(st.sampled_from(["FRE", "estimada", "outro"]))] = 60.0
        else:
            batch[i] = draw(st.sampled_from([[], "leitura", 7, None]))
    return batch


def one_by_one(batch: list) -> list[Reading] | None:
    """The readings by the per-reading check, or None if it refuses any."""
    try:
        return [Reading.from_json(item, NOW) for item in batch]
    except (InvalidReading, OverflowError):
        return None


@settings(max_examples=500, deadline=None)
@given(batch=spoiled())
def test_columns_take_a_batch_only_when_every_reading_is_valid_and_give_the_same_readings(batch):
    columns = plain_batch(batch, NOW)
    expected = one_by_one(batch)
    if columns is not None:
        assert expected is not None
        assert list(columns) == expected


@settings(max_examples=100, deadline=None)
@given(batch=st.lists(valid, min_size=1, max_size=6), power=st.booleans())
def test_a_valid_batch_of_plain_readings_goes_as_columns(batch, power):
    if not power:
        batch = [{k: v for k, v in item.items() if k != "potencia_w"} for item in batch]
    columns = plain_batch(batch, NOW)
    assert columns is not None
    assert list(columns) == one_by_one(batch)


def test_a_batch_with_one_bad_reading_still_stores_the_others_and_says_why():
    good = {"seq": 1, "ts": NOW - 10_000, "energia_wh": 10.0, "potencia_w": 5.0}
    bad = {"seq": 2, "ts": NOW - 5_000, "energia_wh": -1.0, "potencia_w": 5.0}
    readings, rejected, batch = parse_batch({"leituras": [good, bad]}, NOW)
    assert batch and [r.seq for r in readings] == [1]
    assert [(r.indice, r.seq) for r in rejected] == [(1, 2)] and "energia_wh" in rejected[0].motivo
