"""Ingest: a meter's readings validated, stored durably, then alerts, commands and live waiters.

What the agent is told is what happened. Validation refuses before anything is stored; once the
store has accepted the readings (durable), the steps after it (alerts, commands, live waiters,
counters) can fail only into the log: the agent is told its readings were stored, because they
were, and never gets a 500 for a batch it would then send again.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from servidor.domain.alerts import Alerts
from servidor.domain.batch_columns import plain_batch
from servidor.domain.blinks import parse_pulses
from servidor.domain.categories import export_stream
from servidor.domain.commands import Command, CommandQueue
from servidor.domain.errors import InvalidInput
from servidor.domain.live import WaiterHub
from servidor.domain.meters import Meter
from servidor.store.interface import ReadingsBackend
from shared.contract import MAX_BATCH
from shared.models import InvalidReading, Reading

log = logging.getLogger("servidor.ingestao")

# (accepted, duplicates, rejected) after each request, for the server's counters.
Counts = Callable[[int, int, int], None]
# Stores the blinks (`pulsos`) each reading seq carried, durably and once; raises on failure.
RecordBlinks = Callable[[Meter, list[tuple[int, list[tuple[int, int]]]]], Any]


@dataclass(frozen=True, slots=True)
class Rejection:
    indice: int
    seq: int | None
    motivo: str

    def to_json(self) -> dict[str, Any]:
        return {"indice": self.indice, "seq": self.seq, "motivo": self.motivo}


@dataclass(frozen=True, slots=True)
class Outcome:
    aceitas: int
    duplicadas: int
    ultimo_seq: int | None
    comandos: tuple[Command, ...]
    rejeitadas: tuple[Rejection, ...] = ()


IMPORTED, EXPORTED = "energia_importada_wh", "energia_exportada_wh"
# Fields of a reading that the loop of parse_batch handles before Reading.from_json.
_SPECIAL = frozenset({"leituras", "pulsos", IMPORTED, EXPORTED})


def _two_counters(item: Any, now_ms: int) -> tuple[Reading, Reading | None]:
    """A reading, and the exported-energy counter's when it carries two counters: then
    `energia_importada_wh` is the reading's `energia_wh` and `energia_exportada_wh` is a reading
    of the export stream with the same seq and ts."""
    if type(item) is not dict or (IMPORTED not in item and EXPORTED not in item):
        return Reading.from_json(item, now_ms), None
    if "energia_wh" in item or IMPORTED not in item or EXPORTED not in item:
        raise InvalidReading(f"envie energia_wh, ou {IMPORTED} e {EXPORTED} juntos")
    main = {k: v for k, v in item.items() if k not in (IMPORTED, EXPORTED)}
    main["energia_wh"] = item[IMPORTED]
    reading = Reading.from_json(main, now_ms)
    exported = Reading.from_json({"seq": item.get("seq"), "ts": item.get("ts"), "energia_wh": item[EXPORTED]}, now_ms)
    return reading, exported


def parse_batch(body: Any, now_ms: int, exports: list[Reading] | None = None,
                pulses: list[tuple[int, list[tuple[int, int]]]] | None = None,
                ) -> tuple[Sequence[Reading], list[Rejection], bool]:
    """Readings to store, the rejected ones with their reasons, and whether it was a batch;
    the export counters of two-counter readings are appended to `exports`. With `pulses`, the
    blinks of each good reading that carries some are appended to it as (seq, points)."""
    if isinstance(body, dict) and "leituras" in body:
        items = body["leituras"]
        if not isinstance(items, list):
            raise InvalidInput("leituras deve ser uma lista")
        if len(items) > MAX_BATCH:
            raise InvalidInput(f"no máximo {MAX_BATCH} leituras por requisição (recebidas {len(items)})",
                               code="lote_grande_demais")
        batch = True
        if len(items) > 1:
            columns = plain_batch(items, now_ms)
            if columns is not None:  # every reading valid, none with more than the plain fields
                return columns, [], True
    else:
        if type(body) is dict and not _SPECIAL.intersection(body):  # one plain reading, the commonest body
            try:
                return [Reading.from_json(body, now_ms)], [], False
            except (InvalidReading, OverflowError):
                pass  # the loop below words the rejection
        items, batch = [body], False
    good: list[Reading] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(items):
        try:
            points = None
            if pulses is not None and type(item) is dict and "pulsos" in item:
                item = dict(item)
                points = parse_pulses(item.pop("pulsos"))
            reading, exported = _two_counters(item, now_ms)
            if exported is not None:
                if exports is None:
                    raise InvalidReading(f"{IMPORTED}/{EXPORTED} não são aceitos aqui")
                exports.append(exported)
            good.append(reading)
            if points:
                pulses.append((reading.seq, points))
        except (InvalidReading, OverflowError) as exc:
            motive = str(exc) if isinstance(exc, InvalidReading) else "número fora do intervalo aceito"
            seq = item.get("seq") if isinstance(item, dict) else None
            # Echo the seq only when it is one (any JSON could sit there).
            rejected.append(Rejection(index, seq if type(seq) is int and 0 <= seq < 2**63 else None, motive))
    return good, rejected, batch


class Ingest:
    def __init__(self, readings: ReadingsBackend, alerts: Alerts, commands: CommandQueue, live: WaiterHub,
                 counts: Counts, clock: Callable[[], float] = time.time, blinks: RecordBlinks | None = None) -> None:
        self._readings = readings
        self._alerts = alerts
        self._commands = commands
        self._live = live
        self._counts = counts
        self._clock = clock
        self._blinks = blinks

    def submit(self, meter: Meter, body: Any) -> Outcome:
        """Store one reading or a batch of `meter`. InvalidInput when nothing in it can be stored
        (with every reason); a store failure propagates with nothing stored."""
        now_ms = int(self._clock() * 1000)
        exports: list[Reading] = []
        pulses: list[tuple[int, list[tuple[int, int]]]] | None = [] if self._blinks is not None else None
        readings, rejected, batch = parse_batch(body, now_ms, exports, pulses)
        if rejected and not readings:
            self._counts(0, 0, len(rejected))
            motives = "; ".join(f"leitura {r.indice}: {r.motivo}" if batch else r.motivo for r in rejected)
            raise InvalidInput(motives[:2000], code="leitura_invalida")
        stream = meter.stream
        result = self._readings.append(stream, readings, arrived_ms=now_ms)
        if exports:  # after the main counters: a failure here is retried with both, by seq
            self._readings.append(export_stream(meter), exports)
        self._settle(meter, result, len(rejected), now_ms)
        if pulses and self._blinks is not None:
            # Raises (503) if the blinks cannot be stored: the agent sends the batch again, its
            # readings count as duplicates and the blinks are stored then (the store skips any
            # it already has), so an acknowledged batch always has its blinks.
            self._blinks(meter, pulses)
        return Outcome(result.aceitas, result.duplicadas, result.ultimo_seq, self._take_commands(meter),
                       tuple(rejected))

    def defer(self, meter: Meter, body: Any, done: Callable[[Outcome | Exception], None]) -> bool:
        """`submit` without waiting for the disk, for the commonest body (one plain, valid
        reading) on a store that can tell when an append is durable: True, and `done(outcome)`
        runs later in the store's thread (or `done(error)`); False, and nothing done, for any
        other body or store, which `submit` then takes."""
        append_later = getattr(self._readings, "append_later", None)
        if append_later is None or type(body) is not dict or _SPECIAL.intersection(body):
            return False
        now_ms = int(self._clock() * 1000)
        try:
            reading = Reading.from_json(body, now_ms)
        except (InvalidReading, OverflowError):
            return False  # submit words the refusal

        def durable(result: Any) -> None:
            if isinstance(result, Exception):
                done(result)
                return
            self._settle(meter, result, 0, now_ms)
            done(Outcome(result.aceitas, result.duplicadas, result.ultimo_seq, self._take_commands(meter)))

        append_later(meter.stream, [reading], durable, arrived_ms=now_ms)
        return True

    def _settle(self, meter: Meter, result: Any, rejected: int, now_ms: int) -> None:
        """What follows stored readings: counters, live waiters, alerts (failures only logged)."""
        try:
            self._counts(result.aceitas, result.duplicadas, rejected)
            if result.aceitas:
                self._live.notify(meter.stream, result.ultimo_seq)
            self._alerts.after_ingest(meter, result.resets, result.aceitas, now_ms)
        except Exception:
            log.exception("leituras de %s gravadas, mas a verificação depois delas falhou", meter.id)

    def _take_commands(self, meter: Meter) -> tuple[Command, ...]:
        try:
            return tuple(self._commands.take(meter.id))
        except Exception:
            log.exception("leituras de %s gravadas, mas os comandos pendentes não puderam ser lidos", meter.id)
            return ()
