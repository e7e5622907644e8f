"""What a simulated meter measures: consumption profiles and the electrical state they imply.

A profile is a function of time (epoch seconds) to total active power (W, negative when the
site exports). `MeterState` turns it into everything an analyzer shows: per-phase voltages and
currents, power factor, frequency, THD, and energy counters that accumulate as time passes.
"""
from __future__ import annotations

import math
import time
from typing import Callable

from ..base import Measurement
from ..energy import EnergyIntegrator

Profile = Callable[[float], float]

NOMINAL_V = 220.0   # phase-neutral, as in most 220/380 V Brazilian three-phase supplies
NOMINAL_HZ = 60.0
POWER_FACTOR = 0.92
PHASES = 3


def constant(watts: float) -> Profile:
    """The same power at every instant (tests want exact, predictable values)."""
    return lambda _t: float(watts)


def residential(base_w: float = 250.0, peak_w: float = 3500.0) -> Profile:
    """A household day by local time: base load, a fridge cycling, morning and evening peaks.

    Deterministic in t, so two simulators given the same clock agree and a demo replays.
    """
    def profile(t: float) -> float:
        local = time.localtime(t)
        hour = local.tm_hour + local.tm_min / 60 + local.tm_sec / 3600
        fridge = 120.0 if (t // 60) % 30 < 12 else 0.0  # 12 of every 30 minutes
        morning = 0.5 * peak_w * _bump(hour, 7.0, 0.8)
        evening = peak_w * _bump(hour, 19.5, 1.5)
        shower = 0.8 * peak_w * (1.0 if 19.0 <= hour < 19.25 else 0.0)  # an electric shower
        ripple = 40.0 * math.sin(t / 17.0)
        return round(base_w + fridge + morning + evening + shower + ripple, 1)
    return profile


def commercial(base_w: float = 2000.0, peak_w: float = 15000.0) -> Profile:
    """Office hours on weekdays, base load at night and at weekends."""
    def profile(t: float) -> float:
        local = time.localtime(t)
        hour = local.tm_hour + local.tm_min / 60
        weekday = local.tm_wday < 5
        working = weekday and 8.0 <= hour < 18.0
        hvac = 0.3 * peak_w * math.sin(math.pi * (hour - 8.0) / 10.0) if working else 0.0
        return round(base_w + (0.6 * peak_w + hvac if working else 0.0), 1)
    return profile


def solar(consumption_w: float = 600.0, pv_peak_w: float = 4000.0) -> Profile:
    """A site with panels: power goes negative (export) around noon."""
    def profile(t: float) -> float:
        local = time.localtime(t)
        hour = local.tm_hour + local.tm_min / 60
        pv = pv_peak_w * max(0.0, math.sin(math.pi * (hour - 6.0) / 12.0))
        return round(consumption_w - pv, 1)
    return profile


def profile_by_name(spec: str) -> Profile:
    """"residencial", "comercial", "solar" or "constante:<W>" (for `medidor simular-dispositivo`)."""
    name, _, argument = spec.partition(":")
    if name == "constante":
        try:
            return constant(float(argument))
        except ValueError:
            raise ValueError(f"perfil {spec!r}: use constante:<watts>, ex.: constante:1500") from None
    named = {"residencial": residential, "comercial": commercial, "solar": solar}
    if name not in named or argument:
        raise ValueError(f"perfil {spec!r} desconhecido; use residencial, comercial, solar ou constante:<W>")
    return named[name]()


def _bump(x: float, centre: float, width: float) -> float:
    return math.exp(-((x - centre) / width) ** 2)


class MeterState:
    """The readings of a three-phase analyzer following `profile`; advance() moves time on."""

    def __init__(self, profile: Profile, start_kwh: float = 1000.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.profile = profile
        self.clock = clock
        self._active = EnergyIntegrator(start_wh=start_kwh * 1000.0)
        self._reactive = EnergyIntegrator(start_wh=start_kwh * 250.0)
        self._t = clock()
        self._power = float(profile(self._t))
        self._active.add(int(self._t * 1000), self._power)
        self._reactive.add(int(self._t * 1000), self._reactive_power(self._power))

    def advance(self) -> None:
        """Sample the profile now and accumulate energy since the last call."""
        self._t = self.clock()
        self._power = float(self.profile(self._t))
        ts = int(self._t * 1000)
        self._active.add(ts, self._power)
        self._reactive.add(ts, self._reactive_power(self._power))

    @property
    def potencia_w(self) -> float:
        return self._power

    @property
    def energia_wh(self) -> float:
        return self._active.energia_wh

    def values(self) -> dict[str, Measurement]:
        """Every measurement code, in the units of shared.models.MEASUREMENT_CODES."""
        t, power = self._t, self._power
        volts = tuple(NOMINAL_V + 2.0 * math.sin(t / 60.0 + k * 2.1) for k in range(PHASES))
        per_phase = power / PHASES
        amps = tuple(abs(per_phase) / (v * POWER_FACTOR) for v in volts)
        neutral = 0.05 * max(amps)  # a slightly unbalanced load
        apparent = abs(power) / POWER_FACTOR
        return {
            "TPF": volts,
            "IPF": amps + (neutral,),
            "FRE": NOMINAL_HZ + 0.02 * math.sin(t / 7.0),
            "PAF": (per_phase,) * PHASES,
            "PAT": power,
            "PAP": apparent,
            "PRT": self._reactive_power(power),
            "FPT": POWER_FACTOR,
            "THDV": (2.5, 2.6, 2.4),
            "THDI": (8.0, 8.5, 7.5, 15.0),
            "CEA": self._active.energia_wh / 1000.0,
            "CER": self._reactive.energia_wh / 1000.0,
        }

    @staticmethod
    def _reactive_power(power: float) -> float:
        return abs(power) / POWER_FACTOR * math.sin(math.acos(POWER_FACTOR))
