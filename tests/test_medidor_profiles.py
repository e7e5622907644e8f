"""Consumption profiles: plausible days, PV export at noon, reproducible with the seed."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from medidor.profiles import PROFILES, make_profile
from medidor.simulated_source import SimClock, SimulatedMeter

TZ = ZoneInfo("America/Sao_Paulo")


def at(year: int, month: int, day: int, hour: float = 0.0) -> float:
    return datetime(year, month, day, tzinfo=TZ).timestamp() + hour * 3600


def day_kwh(profile, start_s: float) -> float:
    """Signed energy of one day at 1-minute resolution (negative: exported)."""
    return sum(profile(start_s + s + 30) for s in range(0, 86400, 60)) * 60 / 3600 / 1000


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_household_day_is_in_a_sane_range(seed: int) -> None:
    profile = make_profile("residencial", seed)
    for day in range(2, 9):  # a whole week of November 2026
        assert 4 < day_kwh(profile, at(2026, 11, day)) < 16


def test_household_has_shower_peaks_and_quiet_nights() -> None:
    profile = make_profile("residencial", 5)
    start = at(2026, 11, 3)
    watts = [profile(start + s) for s in range(0, 86400, 30)]
    assert max(watts) > 5000  # the electric shower
    night = [profile(start + h * 3600) for h in (2, 3, 4)]
    assert all(w < 400 for w in night)


def test_commercial_weekday_uses_more_than_sunday() -> None:
    profile = make_profile("comercial", 1)
    assert day_kwh(profile, at(2026, 11, 3)) > 2 * day_kwh(profile, at(2026, 11, 1))  # Tue vs Sun
    assert 25 < day_kwh(profile, at(2026, 11, 3)) < 70


def test_pv_exports_at_noon_and_draws_standby_at_night() -> None:
    profile = make_profile("solar", 1)
    assert profile.categoria == "pvProd" and profile.exports
    for day in range(1, 8):
        assert profile(at(2026, 11, day, 12)) < -500
        assert 0 < profile(at(2026, 11, day, 1)) < 10
        assert -25 < day_kwh(profile, at(2026, 11, day)) < -3


@pytest.mark.parametrize("name", PROFILES)
def test_same_seed_same_watts_other_seed_other_watts(name: str) -> None:
    instants = [at(2026, 11, 4) + s for s in range(0, 86400, 997)]
    a = [make_profile(name, 11)(t) for t in instants]
    b = [make_profile(name, 11)(t) for t in reversed(instants)][::-1]
    c = [make_profile(name, 12)(t) for t in instants]
    assert a == b
    assert a != c


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="perfil desconhecido"):
        make_profile("industrial", 1)


def test_simulated_counter_integrates_the_profile_times_the_multiplier() -> None:
    profile = make_profile("residencial", 3)
    start = int(at(2026, 11, 3) * 1000)
    meter = SimulatedMeter(profile, start_ms=start, multiplier=2.0)
    last = None
    for i in range(1, 8641):  # a day of 10-s readings
        last = meter.measure(start + i * 10_000)
    assert last is not None
    expected = 2 * day_kwh(profile, at(2026, 11, 3)) * 1000
    assert abs(last.energia_wh - expected) / expected < 0.03


def test_counter_of_a_pv_meter_counts_export_and_only_grows() -> None:
    meter = SimulatedMeter(make_profile("solar", 1), start_ms=int(at(2026, 11, 3) * 1000))
    counters = [meter.measure(int(at(2026, 11, 3, h) * 1000)).energia_wh for h in range(1, 24)]
    assert counters == sorted(counters)
    assert counters[-1] > 3000


def test_a_gap_is_integrated_into_the_next_reading() -> None:
    profile = make_profile("comercial", 2)
    start = int(at(2026, 11, 3) * 1000)
    stepwise = SimulatedMeter(profile, start_ms=start)
    for i in range(1, 361):
        stepwise.measure(start + i * 10_000)
    jump = SimulatedMeter(profile, start_ms=start).measure(start + 3_600_000)
    assert abs(jump.energia_wh - stepwise.counter_wh) < 1.0


def test_sim_clock_runs_faster_but_never_ahead_of_real_time() -> None:
    real = [1_000_000_000_000]
    mono = [0.0]
    clock = SimClock(real[0] - 3_600_000, 100.0, real_ms=lambda: real[0], monotonic=lambda: mono[0])
    assert clock.now_ms() == real[0] - 3_600_000 and not clock.caught_up
    mono[0] = 10.0  # 10 real seconds: 1000 simulated
    assert clock.now_ms() == real[0] - 3_600_000 + 1_000_000
    assert clock.delay_until(real[0] - 3_600_000 + 1_100_000) == pytest.approx(1.0)
    mono[0] = 100.0
    assert clock.now_ms() == real[0] and clock.caught_up
