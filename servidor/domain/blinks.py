"""Blinks of pulse meters: taking them from ingested readings, and what blipserver's routes ask.

A reading from a pulse counter's agent carries `pulsos`, the blinks seen since the previous one
as `[stamp_ms, ms]` pairs (docs/protocolos.md §3). They are stored once (see
servidor.store.blinks) under the meter's stream, and the meter is given a numeric blip id the
first time, the number blipserver's clients put in their URLs.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from servidor.domain.errors import Conflict, NotFound
from servidor.domain.live import WaiterHub
from servidor.domain.meters import Meter
from servidor.domain.registry import MeterRegistry
from servidor.store.blinks import HOUR_MS, BlinkStore, Hour, Point
from shared.models import EARLIEST_TS_MS, MAX_FUTURE_SKEW_MS, InvalidReading

# Blinks one reading may carry. The agent sends at most 500 per reading (its spool records are
# bounded); 2000 is 200 blinks a second over a 10-s reading, 720 kW on a 1000 imp/kWh meter.
MAX_PULSES_PER_READING = 2000
# An interval is an int32 in storage: 24 days without a blink is a meter that is off.
MAX_INTERVAL_MS = 2**31 - 1
# blipserver's answers: /last/{id}/{ms} and /since/{id}/{stamp} give at most this many points
# (its README says 20000 for /last and 2000 for /since; one bound for both, documented).
MAX_POINTS = 20_000
# /aggregate and /aggregate_hourly: at most this many buckets, as blipserver refused more.
MAX_BUCKETS = 1000


def parse_pulses(value: Any) -> list[Point]:
    """A reading's `pulsos` as points; InvalidReading (pt-BR) for anything else."""
    if not isinstance(value, list):
        raise InvalidReading("pulsos deve ser uma lista de pares [instante_ms, intervalo_ms]")
    if len(value) > MAX_PULSES_PER_READING:
        raise InvalidReading(f"no máximo {MAX_PULSES_PER_READING} pulsos por leitura")
    points: list[Point] = []
    for pair in value:
        if (type(pair) is not list or len(pair) != 2 or type(pair[0]) is not int or type(pair[1]) is not int
                or not EARLIEST_TS_MS <= pair[0] < 2**53 or not 0 < pair[1] <= MAX_INTERVAL_MS):
            raise InvalidReading("cada pulso é [instante_ms, intervalo_ms]: inteiros, instante depois de 2000, "
                                 f"intervalo de 1 a {MAX_INTERVAL_MS} ms")
        points.append((pair[0], pair[1]))
    return points


def mean_power_w(events: int, sum_ms: int, pulsos_por_kwh: float) -> float:
    """blipserver's hourly mean power: `events` blinks of 1000/N Wh over `sum_ms` of intervals."""
    return 3_600_000.0 * 1000.0 * events / (pulsos_por_kwh * sum_ms) if sum_ms else 0.0


def plain(number: float) -> float | int:
    """A number as blipserver printed it: whole numbers without a decimal point."""
    rounded = round(number, 3)
    return int(rounded) if rounded == int(rounded) else rounded


@dataclass(frozen=True, slots=True)
class BlinkStats:
    pontos: int
    watermark: int | None


class Blinks:
    """The blink service: recording (from ingest) and blipserver's queries, by blip id."""

    def __init__(self, store: BlinkStore, registry: MeterRegistry, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._assign = threading.Lock()
        self.hub = WaiterHub(self._after)

    # -- recording ------------------------------------------------------------------------------

    def record(self, meter: Meter, batches: Sequence[tuple[int, Sequence[Point]]]) -> int:
        """Store the blinks each reading seq carried (once: see the store); StoreError on failure."""
        stored = self._store.append(meter.stream, batches)
        if stored:
            if meter.id_blip is None:
                self.assign_id(meter.id)
            last = self._store.last(meter.stream)
            if last is not None:
                self.hub.notify(meter.stream, last[0])
        return stored

    def assign_id(self, meter_id: str) -> int:
        """The meter's blip id, giving it the next free number if it has none."""
        with self._assign:
            while True:
                meter = self._registry.get(meter_id)
                if meter.id_blip is not None:
                    return meter.id_blip
                taken = [m.id_blip for m in self._registry.all(fresh=True) if m.id_blip is not None]
                number = max(taken, default=0) + 1
                try:
                    self._registry.update(meter_id, id_blip=number)
                except Conflict:
                    continue  # a PUT took that number meanwhile: pick the next
                return number

    def forget(self, meter: Meter) -> None:
        self._store.delete(meter.stream)

    # -- queries --------------------------------------------------------------------------------

    def meter(self, id_blip: int) -> Meter:
        for fresh in (False, True):        # a miss reads the list again: another server may know it
            for meter in self._registry.all(fresh):
                if meter.id_blip == id_blip:
                    return meter
        raise NotFound(f"nenhum medidor tem id_blip {id_blip}")

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def last(self, meter: Meter) -> Point | None:
        return self._store.last(meter.stream)

    def since(self, meter: Meter, stamp: int, limit: int | None = None) -> list[Point]:
        return self._store.since(meter.stream, stamp, MAX_POINTS if limit is None else limit)

    def usage(self, meter: Meter, ms: int) -> int:
        now = self.now_ms()
        # One bucket from now − ms up to now (and any blink stamped later, from a clock ahead).
        return sum(self._store.bucket_counts(meter.stream, now - ms, ms + MAX_FUTURE_SKEW_MS, 1))

    def aggregate(self, meter: Meter, since: int, interval: int, count: int) -> list[list[int]]:
        """[[bucket offset, blinks], …] for the non-empty buckets of `count` × `interval` ms."""
        totals = self._store.bucket_counts(meter.stream, since, interval, count)
        return [[interval * i, n] for i, n in enumerate(totals) if n]

    def aggregate_hourly(self, meter: Meter, since: int, interval: int, count: int) -> list[list[float | int]]:
        """The same buckets over the hourly table, summing Wh (an hour falls in the bucket of its start)."""
        wh_per_blink = 1000.0 / meter.pulsos_por_kwh
        buckets: dict[int, float] = {}
        for hour in self._store.hours(meter.stream, since, since + interval * count):
            offset = interval * ((hour.start_ms - since) // interval)
            buckets[offset] = buckets.get(offset, 0.0) + hour.events * wh_per_blink
        return [[offset, plain(wh)] for offset, wh in sorted(buckets.items())]

    def hourly(self, meter: Meter, start: int, end: int) -> list[list[float | int]]:
        """[[hour start, blinks, mean W, least ms, most ms], …] for the UTC hours from the one
        holding `start` up to `end` (exclusive)."""
        rows: Iterable[Hour] = self._store.hours(meter.stream, start - start % HOUR_MS, end)
        return [[h.start_ms, h.events, plain(mean_power_w(h.events, h.sum_ms, meter.pulsos_por_kwh)),
                 h.min_ms, h.max_ms] for h in rows]

    def stats(self, meter: Meter) -> BlinkStats:
        return BlinkStats(self._store.count(meter.stream), self._store.watermark(meter.stream))

    def _after(self, stream: str, stamp: int) -> list[Point]:
        return self._store.since(stream, stamp + 1, 1)
