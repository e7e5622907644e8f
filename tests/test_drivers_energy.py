"""EnergyIntegrator (power → Wh counter) and Backoff (retry delays)."""
from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import MAX_GAP_MS, Backoff, EnergyIntegrator
from drivers.energy import trapezoid_split

HOUR_MS = 3_600_000


def test_constant_power_for_an_hour_is_that_many_wh() -> None:
    integrator = EnergyIntegrator(start_wh=500.0)
    for minute in range(61):
        counter = integrator.add(minute * 60_000, 1200.0)
    assert counter == pytest.approx(500.0 + 1200.0)


def test_ramp_is_integrated_as_a_trapezoid() -> None:
    integrator = EnergyIntegrator()
    integrator.add(0, 0.0)
    assert integrator.add(60_000, 600.0) == pytest.approx(5.0)   # mean 300 W for 1 min


def test_export_is_kept_apart_and_the_counter_never_goes_back() -> None:
    integrator = EnergyIntegrator(start_wh=10.0)
    integrator.add(0, -1000.0)
    assert integrator.add(60_000, -1000.0) == 10.0
    assert integrator.exportada_wh == pytest.approx(1000 / 60)


def test_sign_change_is_split_at_the_zero_crossing() -> None:
    positive, negative = trapezoid_split(300.0, -100.0, 1.0)
    assert positive == pytest.approx(300 * 0.75 / 2)
    assert negative == pytest.approx(100 * 0.25 / 2)


def test_gap_longer_than_the_limit_is_not_integrated() -> None:
    integrator = EnergyIntegrator()
    integrator.add(0, 5000.0)
    assert integrator.add(MAX_GAP_MS + 1, 5000.0) == 0.0
    assert integrator.lacunas_ms == MAX_GAP_MS + 1
    assert integrator.add(MAX_GAP_MS + 1 + 60_000, 5000.0) == pytest.approx(5000 / 60)


def test_sample_not_after_the_previous_adds_nothing() -> None:
    integrator = EnergyIntegrator()
    integrator.add(10_000, 1000.0)
    assert integrator.add(10_000, 1000.0) == 0.0
    assert integrator.add(5_000, 1000.0) == 0.0
    assert integrator.add(5_000 + HOUR_MS // 60, 1000.0) == pytest.approx(1000 / 60)


def test_non_finite_power_is_refused() -> None:
    with pytest.raises(ValueError):
        EnergyIntegrator().add(0, float("nan"))


@given(st.lists(st.tuples(st.integers(1, MAX_GAP_MS), st.floats(-50_000, 50_000)), max_size=50))
def test_import_minus_export_is_the_net_integral(steps: list[tuple[int, float]]) -> None:
    integrator = EnergyIntegrator()
    ts, last_power = 0, 0.0
    integrator.add(ts, last_power)
    net = 0.0
    for dt, power in steps:
        ts += dt
        integrator.add(ts, power)
        net += (last_power + power) / 2 * dt / HOUR_MS
        last_power = power
    assert integrator.energia_wh >= 0 and integrator.exportada_wh >= 0
    assert integrator.energia_wh - integrator.exportada_wh == pytest.approx(net, abs=1e-6 * (1 + abs(net)))


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    backoff = Backoff(base_s=0.5, cap_s=30.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(12)]
    nominal = [min(30.0, 0.5 * 2 ** n) for n in range(12)]
    assert all(n / 2 <= d <= n for d, n in zip(delays, nominal))
    assert backoff.failures == 12
    backoff.reset()
    assert backoff.failures == 0 and backoff.next_delay() <= 0.5


def test_backoff_survives_thousands_of_failures() -> None:
    backoff = Backoff(base_s=1.0, cap_s=60.0, rng=random.Random(1))
    for _ in range(5000):
        assert backoff.next_delay() <= 60.0


def test_backoff_rejects_a_cap_below_the_base() -> None:
    with pytest.raises(ValueError):
        Backoff(base_s=5.0, cap_s=1.0)
