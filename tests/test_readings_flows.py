"""Counters that go both ways, resets and momentary zeros, in the readings store (flows.py)."""
from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from servidor.store.readings import BUCKET_MS, FlowPolicy, ReadingStore
from shared.models import Reading

T0 = 1_700_000_000_000 - 1_700_000_000_000 % BUCKET_MS
MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000
NET = FlowPolicy(bidirectional=True)
END = T0 + 40 * DAY


@pytest.fixture
def store(tmp_path):
    s = ReadingStore.open(tmp_path / "leituras", durable=False)
    yield s
    s.close()


def put(store: ReadingStore, meter: str, values_wh, step_ms: int = 10 * MIN, first_seq: int = 1) -> list[Reading]:
    readings = [Reading(first_seq + i, T0 + i * step_ms, float(v)) for i, v in enumerate(values_wh)]
    store.append(meter, readings)
    return readings


def totals(store: ReadingStore, meter: str, start: int = T0, end: int = END) -> tuple[float, float]:
    """(Wh in, Wh out) over [start, end)."""
    return store.energy(meter, start, end)[0], store.energy(meter, start, end, exported=True)[0]


def test_a_net_counter_that_goes_down_is_export_not_a_reset(store):
    # The numbers: 10 → 11 → 12 → 11.5 → 11 kWh is 2 kWh in, 1 kWh out, 1 kWh net.
    store.set_flow("net", NET)
    result = store.append("net", [Reading(i + 1, T0 + i * 15 * MIN, v * 1000) for i, v in
                                  enumerate([10, 11, 12, 11.5, 11])])
    assert result.resets == ()
    wh_in, wh_out = totals(store, "net")
    assert (wh_in, wh_out) == (pytest.approx(2000.0), pytest.approx(1000.0))
    assert [reset for _, reset in store.readings("net")] == [False] * 5


def test_the_same_counter_on_a_monotonic_meter_is_a_reset(store):
    put(store, "m", [10_000, 11_000, 12_000, 11_500, 11_600])
    assert totals(store, "m") == (pytest.approx(2100.0), 0.0)
    assert [reset for _, reset in store.readings("m")] == [False, False, False, True, False]


def test_setting_the_policy_after_the_readings_rebuilds_the_rollups(store):
    put(store, "net", [10_000, 11_000, 12_000, 11_500, 11_000])
    store.set_flow("net", NET)
    assert totals(store, "net") == (pytest.approx(2000.0), pytest.approx(1000.0))
    store.set_flow("net", FlowPolicy())
    assert totals(store, "net") == (pytest.approx(2000.0), 0.0)


def test_a_net_counter_down_and_up_across_a_month_gives_each_days_import_and_export(store):
    # Daily readings at local noon (UTC here): each day imports 8 kWh at night and exports some
    # at midday; the counter read once a day moves by import − export, down on sunny days.
    store.set_flow("net", NET)
    daily_net = [3_000 if day % 3 else -5_000 for day in range(31)]
    counter, values = 100_000.0, [100_000.0]
    for change in daily_net:
        counter += change
        values.append(counter)
    put(store, "net", values, step_ms=DAY)
    days = store.day_energy("net", date(2000, 1, 1), date(2100, 1, 1))
    out = store.day_energy("net", date(2000, 1, 1), date(2100, 1, 1), exported=True)
    assert sum(wh for wh, _ in days.values()) == pytest.approx(sum(c for c in daily_net if c > 0))
    assert sum(wh for wh, _ in out.values()) == pytest.approx(-sum(c for c in daily_net if c < 0))
    wh_in, wh_out = totals(store, "net")
    assert wh_in - wh_out == pytest.approx(values[-1] - values[0])


def test_a_net_counter_dropping_to_zero_is_a_reset(store):
    store.set_flow("net", NET)
    result = store.append("net", [Reading(1, T0, 12_000.0), Reading(2, T0 + HOUR, 12_500.0), Reading(3, T0 + 2 * HOUR, 0.0),
                                  Reading(4, T0 + 3 * HOUR, 300.0)])
    assert [r.seq for r in result.resets] == [3]
    assert totals(store, "net") == (pytest.approx(800.0), 0.0)


def test_a_drop_faster_than_the_meters_power_is_a_reset_and_a_slower_one_export(store):
    # A 7 kW house: 2 kWh gone in 10 minutes needs 12 kW (a reset to a lower register value);
    # 1 kWh in 10 minutes is 6 kW of export.
    policy = FlowPolicy(bidirectional=True, max_power_w=7_000)
    store.set_flow("a", policy)
    store.set_flow("b", policy)
    put(store, "a", [50_000, 48_000, 48_100])
    put(store, "b", [50_000, 49_000, 49_100])
    assert totals(store, "a") == (pytest.approx(100.0), 0.0)
    assert [reset for _, reset in store.readings("a")] == [False, True, False]
    assert totals(store, "b") == (pytest.approx(100.0), pytest.approx(1000.0))
    assert [reset for _, reset in store.readings("b")] == [False, False, False]


# Garbage on a net counter (7 Wh) is told from export only by the meter's power (20 kW here).
@pytest.mark.parametrize(("policy", "glitch"), [(FlowPolicy(), 0.0), (FlowPolicy(), 7.0), (NET, 0.0),
                                                (FlowPolicy(True, 20_000.0), 7.0)],
                         ids=["monotonico-zero", "monotonico-lixo", "liquido-zero", "liquido-lixo"])
def test_a_momentary_zero_in_order_makes_no_reset_spike_or_negative_bar(store, policy, glitch):
    store.set_flow("m", policy)
    store.set_flow("ref", policy)
    clean = [10_000, 10_100, 10_200, 10_300, 10_400]
    put(store, "ref", clean)
    resets = []
    for i, value in enumerate([10_000, 10_100, glitch, 10_300, 10_400]):  # one request per reading
        resets += store.append("m", [Reading(i + 1, T0 + i * 10 * MIN, value)]).resets
    assert resets == []
    assert totals(store, "m") == totals(store, "ref") == (pytest.approx(400.0), 0.0)
    assert [reset for _, reset in store.readings("m")] == [False] * 5
    for start in range(T0, T0 + HOUR, BUCKET_MS):  # no bucket spikes or goes negative
        assert 0.0 <= store.energy("m", start, start + BUCKET_MS)[0] <= 200.0


@pytest.mark.parametrize("policy", [FlowPolicy(), NET], ids=["monotonico", "liquido"])
def test_a_momentary_zero_whose_return_arrives_late_is_still_a_glitch(store, policy):
    store.set_flow("m", policy)
    store.append("m", [Reading(1, T0, 10_000.0), Reading(2, T0 + 10 * MIN, 10_100.0), Reading(3, T0 + 20 * MIN, 0.0)])
    # Until the next reading, the zero looks like a reset (it is the last reading) ...
    assert [reset for _, reset in store.readings("m")] == [False, False, True]
    # ... the agent's backlog then arrives out of order: the later reading first, the return last.
    store.append("m", [Reading(5, T0 + 40 * MIN, 10_400.0)])
    store.append("m", [Reading(4, T0 + 30 * MIN, 10_300.0)])
    assert [reset for _, reset in store.readings("m")] == [False] * 5
    assert totals(store, "m") == (pytest.approx(400.0), 0.0)


def test_a_reset_is_reported_once_the_next_reading_confirms_it(store):
    first = store.append("m", [Reading(1, T0, 5_000.0), Reading(2, T0 + MIN, 5_010.0), Reading(3, T0 + 2 * MIN, 2.0)])
    assert first.resets == ()  # a zero alone may still come back
    second = store.append("m", [Reading(4, T0 + 3 * MIN, 9.0)])
    assert [r.seq for r in second.resets] == [3]
    assert totals(store, "m") == (pytest.approx(17.0), 0.0)


def test_a_rise_faster_than_the_meters_power_is_garbage_not_energy(store):
    store.set_flow("m", FlowPolicy(max_power_w=10_000))
    put(store, "m", [1_000, 1_050, 9_000_000, 1_150, 1_200])
    assert totals(store, "m") == (pytest.approx(200.0), 0.0)
    assert [reset for _, reset in store.readings("m")] == [False] * 5


# -- properties ----------------------------------------------------------------------------------

steps = st.lists(st.floats(min_value=-400.0, max_value=400.0, allow_nan=False), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps, glitches=st.sets(st.integers(min_value=1, max_value=38), max_size=4), seed=st.integers(0, 2**16))
def test_net_counter_in_minus_out_is_its_rise_whatever_the_glitches_and_arrival_order(tmp_path_factory, steps, glitches,
                                                                                      seed):
    """For a net counter moving at most 400 Wh per 10 minutes (2.4 kW), import − export equals
    the counter's last − first value, with momentary zeros inserted and readings sent in any
    order; import and export never exceed the clean series' (without glitches, equal them)."""
    counter, values = 50_000.0, [50_000.0]
    for step in steps:
        counter += step
        values.append(counter)
    readings = [Reading(i + 1, T0 + i * 10 * MIN, v) for i, v in enumerate(values)]
    dirty = [Reading(r.seq, r.ts_ms, 0.0) if i in glitches and 0 < i < len(values) - 1 and i - 1 not in glitches
             and i + 1 not in glitches else r for i, r in enumerate(readings)]
    random.Random(seed).shuffle(dirty)
    with ReadingStore.open(tmp_path_factory.mktemp("flows"), durable=False) as store:
        store.set_flow("clean", NET)
        store.set_flow("dirty", NET)
        store.append("clean", readings)
        for k in range(0, len(dirty), 3):
            store.append("dirty", dirty[k:k + 3])
        clean_in, clean_out = totals(store, "clean")
        wh_in, wh_out = totals(store, "dirty")
        assert clean_in - clean_out == pytest.approx(values[-1] - values[0], abs=1e-6)
        # A glitch hides the movements into and out of its reading: only their sum is known.
        assert wh_in - wh_out == pytest.approx(values[-1] - values[0], abs=1e-6)
        assert wh_in <= clean_in + 1e-6 and wh_out <= clean_out + 1e-6
        if not glitches:
            assert (wh_in, wh_out) == (pytest.approx(clean_in, abs=1e-6), pytest.approx(clean_out, abs=1e-6))
        assert not any(reset for _, reset in store.readings("dirty"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rises=st.lists(st.floats(min_value=0.0, max_value=500.0, allow_nan=False), min_size=2, max_size=40),
       glitch=st.integers(min_value=1, max_value=38), seed=st.integers(0, 2**16))
def test_a_monotonic_counters_energy_ignores_one_glitch_in_any_order(tmp_path_factory, rises, glitch, seed):
    values = [1_000.0]
    for rise in rises:
        values.append(values[-1] + rise)
    readings = [Reading(i + 1, T0 + i * 10 * MIN, v) for i, v in enumerate(values)]
    if glitch < len(values) - 1 and values[glitch - 1] > 0:
        readings[glitch] = Reading(glitch + 1, readings[glitch].ts_ms, 0.0)
    random.Random(seed).shuffle(readings)
    with ReadingStore.open(tmp_path_factory.mktemp("mono"), durable=False) as store:
        resets = []
        for k in range(0, len(readings), 4):
            resets += store.append("m", readings[k:k + 4]).resets
        assert resets == []
        assert totals(store, "m") == (pytest.approx(values[-1] - values[0], abs=1e-6), 0.0)


def test_retention_keeps_a_momentary_zero_a_glitch():
    from array import array

    from servidor.store.readings.block import Columns
    from servidor.store.readings.columns import MeterColumns
    from servidor.store.readings.rollups import MeterRollup
    from servidor.store.retention import downsample

    # Ten-second readings for two hours with a momentary zero, then a reading back 40 minutes later.
    values = [10_000.0 + i for i in range(700)] + [0.0] + [10_800.0 + i for i in range(50)]
    ts = [T0 + i * 10_000 for i in range(700)] + [T0 + 700 * 10_000] + [T0 + 700 * 10_000 + 40 * MIN + i * 10_000
                                                                       for i in range(50)]
    n = len(values)
    cols = Columns(array("q", range(n)), array("q", ts), array("d", values), array("d", [0.0] * n),
                   array("B", bytes(n)), None)
    smaller = downsample(cols, (ts[-1] // BUCKET_MS + 1) * BUCKET_MS)
    assert smaller is not None and len(smaller) < n
    before, after = MeterColumns(MeterRollup()), MeterColumns(MeterRollup())
    before.load(cols)
    after.load(smaller)
    assert after.rollup.energy(T0, END) == before.rollup.energy(T0, END)
    assert before.rollup.energy(T0, END)[0] == pytest.approx(values[-1] - values[0])
