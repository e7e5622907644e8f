"""Consumption profiles: pure functions from an instant (epoch seconds) to power in watts.

Power is signed at the meter: positive is drawn from the grid, negative is sent to it. The
household and commercial profiles only draw; the PV profile is an inverter's meter, negative
(exporting) in daylight and a few watts positive at night (the inverter's standby). The agent's
energy counter counts the direction the meter's category names: import for `gridImport`,
export for `pvProd` (see simulated_source.py), so every counter only grows, as the server
expects of a counter.

Every random choice comes from a hash of (seed, what, when), never from call order, so the same
seed gives the same watts at the same instant whichever way the time axis is walked: readings,
backfill, a device simulator and a test all agree.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Callable
from zoneinfo import ZoneInfo

PROFILES = ("residencial", "comercial", "solar", "casa-solar")
_MASK = (1 << 64) - 1
# Minutes of a "block": appliance activity is redrawn every 5 minutes, like real use.
_BLOCK_S = 300


def _mix(x: int) -> int:
    """splitmix64's finalizer: a fast, well-spread integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


# Cached: a profile asks for the same day's and block's draws thousands of times in a row.
@lru_cache(maxsize=1 << 16)
def unit(seed: int, *keys: int) -> float:
    """A uniform number in [0, 1) determined only by `seed` and `keys`."""
    h = _mix(seed & _MASK)
    for key in keys:
        h = _mix(h ^ (key & _MASK))
    return h / 2**64


def _between(u: float, low: float, high: float) -> float:
    return low + (high - low) * u


@dataclass(frozen=True, slots=True)
class _Local:
    hour: float          # 0 ≤ hour < 24, fractional
    weekday: int         # Monday = 0
    day: int             # proleptic ordinal of the local date
    day_of_year: int


def _local(epoch_s: float, tz: ZoneInfo) -> _Local:
    moment = datetime.fromtimestamp(epoch_s, tz)
    hour = moment.hour + moment.minute / 60 + (moment.second + moment.microsecond / 1e6) / 3600
    return _Local(hour, moment.weekday(), moment.toordinal(), moment.timetuple().tm_yday)


def _window(hour: float, start: float, end: float) -> bool:
    return start <= hour < end


@dataclass(frozen=True)
class Profile(ABC):
    """Base of the profiles: `power_w(epoch_s)`; callable, so it can feed a device simulator."""

    seed: int = 0
    fuso: str = "America/Sao_Paulo"
    name: str = field(default="", init=False)
    # The server category of a meter with this profile (opengrid's sensor categories).
    categoria: str = field(default="gridImport", init=False)

    @property
    def tz(self) -> ZoneInfo:
        return _zone(self.fuso)

    @property
    def bidirectional(self) -> bool:
        """Whether the counter follows signed power: up with import, down with export (gridNet)."""
        return self.categoria == "gridNet"

    @property
    def exports(self) -> bool:
        """Whether the meter's counter counts energy sent to the grid (negative power)."""
        return self.categoria in ("pvProd", "gridExport")

    def power_w(self, epoch_s: float) -> float:
        return self._power(epoch_s, _local(epoch_s, self.tz))

    def __call__(self, epoch_s: float) -> float:
        return self.power_w(epoch_s)

    @abstractmethod
    def _power(self, epoch_s: float, local: _Local) -> float:
        """Power in W at `epoch_s` (local calendar fields in `local`); each profile's shape."""

    def _block(self, epoch_s: float, what: int, low: float = 0.4, high: float = 1.6) -> float:
        """A level factor redrawn every 5 minutes: appliances switching on and off."""
        return _between(unit(self.seed, what, int(epoch_s // _BLOCK_S)), low, high)

    def _cycle(self, epoch_s: float, what: int, period_s: float, duty: float) -> bool:
        """A thermostat's on/off cycle (refrigerator, freezer, oven) with a seeded phase."""
        phase = unit(self.seed, what, 0)
        return ((epoch_s / period_s) + phase) % 1.0 < duty


@lru_cache(maxsize=None)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# Stable keys for the hash, one per random thing.
_BASE, _FRIDGE, _MORNING, _EVENING, _MIDDAY, _SHOWER, _SHOWERS, _NOISE = range(1, 9)
_FREEZER_A, _FREEZER_B, _OPEN_LOAD, _AIR, _OVEN, _CLOUDS, _CLOUD_BLOCK, _CLOSED = range(20, 28)


@dataclass(frozen=True)
class Residential(Profile):
    """A Brazilian home: standby ~100 W, a refrigerator cycling, morning and evening peaks, and an
    electric shower (5.5 kW) once or twice a day; later mornings and a cooked lunch at weekends.
    About 7-10 kWh a day (250 kWh a month), like a typical home with an electric shower."""

    name: str = field(default="residencial", init=False)

    # An electric shower draws this much while on (220 V, 25 A: the common 5500 W model).
    SHOWER_W = 5500.0

    def _showers(self, day: int, weekend: bool) -> tuple[tuple[float, float], ...]:
        return _showers(self.seed, day, weekend)

    def _power(self, epoch_s: float, local: _Local) -> float:
        hour = local.hour
        weekend = local.weekday >= 5
        watts = _between(unit(self.seed, _BASE, local.day), 80, 120)
        watts += _between(unit(self.seed, _NOISE, int(epoch_s // 60)), -8, 8)
        # Compressors run longer on warm afternoons.
        duty = 0.45 if 12 <= hour < 18 else 0.33
        if self._cycle(epoch_s, _FRIDGE, 42 * 60, duty):
            watts += 115
        morning = (8.0, 10.5) if weekend else (6.0, 7.75)
        if _window(hour, *morning):
            watts += 380 * self._block(epoch_s, _MORNING)
        if weekend and _window(hour, 11.5, 13.5):
            watts += 650 * self._block(epoch_s, _MIDDAY)
        if _window(hour, 18.0, 19.0):
            watts += 300 * self._block(epoch_s, _EVENING)
        elif _window(hour, 19.0, 21.0):
            watts += 700 * self._block(epoch_s, _EVENING)
        elif _window(hour, 21.0, 23.0):
            watts += 380 * self._block(epoch_s, _EVENING)
        for start, length in self._showers(local.day, weekend):
            if start <= hour < start + length:
                watts += self.SHOWER_W
        return watts


@lru_cache(maxsize=4096)
def _showers(seed: int, day: int, weekend: bool) -> tuple[tuple[float, float], ...]:
    """(start hour, length in hours) of the day's showers: maybe one in the morning, one or two at night."""
    out = []
    if unit(seed, _SHOWERS, day, 0) < 0.6:
        early, late = (8.0, 10.0) if weekend else (6.1, 7.4)
        out.append((_between(unit(seed, _SHOWER, day, 1), early, late), _between(unit(seed, _SHOWER, day, 2), 7, 12) / 60))
    evening = 1 + (unit(seed, _SHOWERS, day, 1) < 0.5)
    for i in range(evening):
        start = _between(unit(seed, _SHOWER, day, 10 + i), 18.5 + 2 * i, 20.5 + 2 * i)
        out.append((start, _between(unit(seed, _SHOWER, day, 20 + i), 7, 12) / 60))
    return tuple(out)


@dataclass(frozen=True)
class Commercial(Profile):
    """A small shop or bakery: two freezers day and night, an oven before opening, lights, air
    conditioning and equipment while open (7-19 on weekdays, 7-13 on Saturday, closed on Sunday).
    About 40-50 kWh on a weekday, 12 on a Sunday."""

    name: str = field(default="comercial", init=False)

    def _power(self, epoch_s: float, local: _Local) -> float:
        hour = local.hour
        weekday = local.weekday
        watts = _between(unit(self.seed, _BASE, local.day), 130, 170)
        watts += _between(unit(self.seed, _NOISE, int(epoch_s // 60)), -15, 15)
        if self._cycle(epoch_s, _FREEZER_A, 30 * 60, 0.5):
            watts += 350
        if self._cycle(epoch_s, _FREEZER_B, 37 * 60, 0.45):
            watts += 330
        closing = {5: 13.0, 6: 0.0}.get(weekday, 19.0)
        if closing and _window(hour, 5.0, 7.0) and self._cycle(epoch_s, _OVEN, 9 * 60, 0.6):
            watts += 4500
        if closing and _window(hour, 7.0, closing):
            lunch = 0.8 if _window(hour, 12.0, 13.0) else 1.0
            watts += lunch * (800 + 600 * self._block(epoch_s, _OPEN_LOAD))
            if _window(hour, 10.0, 17.0):
                # Air conditioning works hardest in the afternoon heat.
                heat = math.sin(math.pi * (hour - 10.0) / 7.0)
                watts += 1800 * heat * self._block(epoch_s, _AIR, 0.7, 1.1)
        return watts


@dataclass(frozen=True)
class Solar(Profile):
    """A 4 kWp rooftop PV inverter: a bell from sunrise to sunset peaking at local noon, days
    clear or cloudy, passing clouds in 5-minute blocks; day length follows the season of the
    southern hemisphere. Exports (negative power) 15-22 kWh on a clear day, 5-15 on a cloudy one."""

    name: str = field(default="solar", init=False)
    categoria: str = field(default="pvProd", init=False)

    PEAK_W = 4000.0
    # Inverter and wiring losses: AC output at the meter is ~80 % of the panels' rating.
    EFFICIENCY = 0.8
    # The inverter draws this from the grid at night.
    STANDBY_W = 4.0

    def _power(self, epoch_s: float, local: _Local) -> float:
        # Longest day near 21 December in the southern hemisphere: 13.3 h; shortest 10.7 h.
        length = 12.0 + 1.3 * math.cos(2 * math.pi * (local.day_of_year - 355) / 365.25)
        sunrise = 12.0 - length / 2
        if not sunrise < local.hour < sunrise + length:
            return self.STANDBY_W
        sun = math.sin(math.pi * (local.hour - sunrise) / length) ** 1.3
        clear = _between(unit(self.seed, _CLOUDS, local.day), 0.35, 1.0)
        if clear < 0.8:
            # A cloudy day: passing clouds cut output further, block by block.
            sun *= self._block(epoch_s, _CLOUD_BLOCK, 0.45, 1.0)
        return -self.PEAK_W * self.EFFICIENCY * clear * sun


@dataclass(frozen=True)
class SolarHouse(Profile):
    """The grid connection of a house with panels: the residential profile plus the solar one of
    the same seed (negative at midday), read by a bidirectional (gridNet) meter. A `solar` meter
    with the same seed measures that house's production."""

    name: str = field(default="casa-solar", init=False)
    categoria: str = field(default="gridNet", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_parts", (Residential(seed=self.seed, fuso=self.fuso),
                                            Solar(seed=self.seed, fuso=self.fuso)))

    def _power(self, epoch_s: float, local: _Local) -> float:
        house, panels = self._parts  # type: ignore[attr-defined]
        return house._power(epoch_s, local) + panels._power(epoch_s, local)


_KINDS: dict[str, type[Profile]] = {"residencial": Residential, "comercial": Commercial, "solar": Solar,
                                    "casa-solar": SolarHouse}


def make_profile(name: str, seed: int, fuso: str = "America/Sao_Paulo") -> Profile:
    """The profile called `name` (one of PROFILES); raises ValueError for an unknown name."""
    try:
        kind = _KINDS[name]
    except KeyError:
        raise ValueError(f"perfil desconhecido: {name!r} (use {', '.join(PROFILES)})") from None
    return kind(seed=seed, fuso=fuso)


def scaled(profile: Callable[[float], float], factor: Callable[[], float]) -> Callable[[float], float]:
    """`profile` times a multiplier read at each call (it may change while a simulator runs)."""
    return lambda epoch_s: profile(epoch_s) * factor()
