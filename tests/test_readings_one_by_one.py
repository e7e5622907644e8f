"""A meter that sends its readings one per request gets the same stored state as one that sends
them in a batch: the store's path for a single reading (the commonest append) and its general
insert agree on the readings, the seq index, the energy, the resets and the journal replayed."""
from __future__ import annotations

import math
from datetime import date

from hypothesis import HealthCheck, given, settings, strategies as st

from servidor.store.readings import BUCKET_MS, FlowPolicy, ReadingStore
from servidor.store.readings.block import Columns
from servidor.store.readings.codec import encode_batch, encode_one
from shared.models import Reading

T0 = 1_700_000_000_000 - 1_700_000_000_000 % BUCKET_MS
STEP = 10_000

# Each step: (ms after the previous reading, Wh added; negative is a drop), and whether it
# carries a measurement, is estimated, or has no power.
steps = st.lists(st.tuples(st.sampled_from([0, 1, STEP, 7 * STEP, 3_600_000, 7_200_000]),
                           st.sampled_from([0.0, 0.5, 3.0, -2.0, -5000.0, 40_000.0]),
                           st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=40)


def build(plan) -> list[Reading]:
    out, ts, energy = [], T0, 10_000.0
    for seq, (gap, delta, medidas, estimada, no_power) in enumerate(plan, start=1):
        ts += gap
        energy = max(energy + delta, 0.0)
        out.append(Reading(seq, ts, energy, None if no_power else 500.0,
                           (("FRE", 60.0),) if medidas else (), estimada))
    return out


def state(store: ReadingStore, meter: str) -> tuple:
    """What a reader sees: the readings, and the energies (with the time they cover)."""
    days = store.day_energy(meter, date(2023, 11, 1), date(2023, 12, 31))
    span = (T0 - 50 * BUCKET_MS, T0 + 50 * BUCKET_MS)
    energies = (store.energy(meter, *span), store.energy(meter, *span, exported=True), *days.values())
    return (store.readings(meter), store.after_seq(meter, 0, 100), list(days)), energies


def same(a: tuple, b: tuple) -> bool:
    """Equal readings; equal energies but for the last bits (sums taken in another order)."""
    return a[0] == b[0] and len(a[1]) == len(b[1]) and all(
        math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-9) and cx == cy for (x, cx), (y, cy) in zip(a[1], b[1]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps, policy=st.sampled_from([FlowPolicy(), FlowPolicy(bidirectional=True),
                                            FlowPolicy(max_power_w=10_000.0)]),
       order=st.randoms(use_true_random=False), shuffle=st.booleans())
def test_one_by_one_equals_one_batch(tmp_path_factory, plan, policy, order, shuffle):
    readings = build(plan)
    sent = list(readings)
    if shuffle:
        order.shuffle(sent)
    one_dir, batch_dir = tmp_path_factory.mktemp("um"), tmp_path_factory.mktemp("lote")
    with ReadingStore.open(one_dir, durable=False) as one, ReadingStore.open(batch_dir, durable=False) as batch:
        one.set_flow("m", policy)
        batch.set_flow("m", policy)
        one_resets = []
        for reading in sent:
            result = one.append("m", [reading])
            assert result.aceitas == 1
            one_resets += result.resets
        again = one.append("m", [sent[-1]])
        assert (again.aceitas, again.duplicadas) == (0, 1)
        batch_result = batch.append("m", sent)
        assert same(state(one, "m"), state(batch, "m"))
        if not shuffle:
            # In order, each reset is confirmed by the reading after it, in either case.
            assert sorted(one_resets, key=lambda r: r.seq) == sorted(batch_result.resets, key=lambda r: r.seq)
        stored = state(one, "m")
    with ReadingStore.open(one_dir, durable=False) as reopened:
        reopened.set_flow("m", policy)
        assert same(state(reopened, "m"), stored)


def test_a_single_reading_record_is_the_batch_record_of_one():
    for reading in (Reading(7, T0, 12.5, 300.0), Reading(2**63 - 1, T0, 0.0, None, (), True)):
        assert encode_one(b"medidor-1", reading) == encode_batch(b"medidor-1", Columns.from_readings([reading]))
