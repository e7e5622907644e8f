"""Where a (re)started agent begins: its source, the clock its readings follow, and the first
instant to measure, continuing from the newest reading in the spool when there is one."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Callable

from shared.models import InvalidReading, parse_timestamp_ms
from medidor.config import AgentConfig
from medidor.profiles import make_profile
from medidor.simulated_source import SimClock, SimulatedMeter
from medidor.sources import PushSource, Source

log = logging.getLogger("medidor")


@dataclass(frozen=True, slots=True)
class LastReading:
    seq: int
    ts_ms: int
    energia_wh: float


def last_reading(payload: bytes | None) -> LastReading | None:
    """The newest spooled reading, where a restarted agent resumes its counter and clock."""
    if payload is None:
        return None
    try:
        doc = json.loads(payload)
        return LastReading(int(doc["seq"]), parse_timestamp_ms(doc["ts"]), float(doc["energia_wh"]))
    except (ValueError, KeyError, TypeError, InvalidReading):
        log.warning("última leitura do spool ilegível; o contador recomeça")
        return None


def align_up(ts_ms: int, interval_ms: int) -> int:
    """The first multiple of `interval_ms` at or after `ts_ms`: readings on round instants."""
    return -(-ts_ms // interval_ms) * interval_ms


def interval_ms(config: AgentConfig) -> int:
    return max(1, round(config.intervalo_s * 1000))


def open_source(config: AgentConfig, last: LastReading | None, multiplier: float,
                real_ms: Callable[[], int]) -> tuple[Source | PushSource, SimClock, int]:
    """The source, the clock the readings follow, and the first instant to measure."""
    cfg = config
    iv = interval_ms(cfg)
    now = real_ms()
    if cfg.fonte == "mqtt":
        # Imported here: paho is needed only by agents that read a broker.
        from medidor.mqtt_source import MqttSource

        return MqttSource(cfg, last), SimClock(now, 1.0, real_ms=real_ms), now
    if not cfg.simulated:
        from medidor.device_source import DeviceSource

        source: Source = DeviceSource(cfg, start_wh=None if last is None else last.energia_wh)
        return source, SimClock(now, 1.0, real_ms=real_ms), align_up(now, iv)
    profile = make_profile(cfg.perfil, cfg.semente, cfg.fuso)
    # History plays as fast as readings can be made unless --acelerar says how fast.
    speed = cfg.acelerar if cfg.acelerar is not None else (None if cfg.historico_dias > 0 else 1.0)
    if last is None:
        start = align_up(now - int(cfg.historico_dias * 86_400_000), iv)
        meter = SimulatedMeter(profile, start_ms=start - iv, multiplier=multiplier)
        return meter, SimClock(start, speed, real_ms=real_ms), start
    meter = SimulatedMeter(profile, start_ms=last.ts_ms, start_wh=last.energia_wh, multiplier=multiplier)
    if cfg.replay:
        # Fill the time the agent was stopped, at the replay speed.
        return meter, SimClock(last.ts_ms, speed, real_ms=real_ms), last.ts_ms + iv
    # Real time: the counter takes the energy of the gap in its next reading, as a real meter's would.
    return meter, SimClock(now, 1.0, real_ms=real_ms), max(align_up(now, iv), last.ts_ms + iv)
