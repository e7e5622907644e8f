"""Readings as CSV: the header, one row per reading, and the import and export of whole files.

The format (docs/dados.md documents it for users):

    medidor,seq,ts,energia_wh,potencia_w,estimada,medidas

* `medidor`: the meter's id; `seq`: the number the meter gave the reading (it identifies the
  reading: a seq the meter already has is a duplicate, which makes an import idempotent);
* `ts`: ISO 8601 with an offset (exported in the meter's zone) or epoch milliseconds;
* `energia_wh`: the cumulative counter; `potencia_w`, `estimada` (0/1) and `medidas` (a JSON
  object of Tesla measurement codes) may be empty, and the last three columns may be absent.

Export walks each meter's readings in time order from the store; import (readings_import.py)
parses, validates as the API does, and appends per meter in large batches.
"""
from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator, TextIO

from servidor.domain.errors import InvalidInput
from servidor.domain.meters import Meter
from servidor.domain.registry import METERS
from servidor.store.documents import DocumentStore
from servidor.store.interface import ReadingsBackend
from shared.models import InvalidReading, Reading, format_timestamp

HEADER = ("medidor", "seq", "ts", "energia_wh", "potencia_w", "estimada", "medidas")
REQUIRED = HEADER[:4]
# Readings read from the store per call while exporting (the store's lock is held for each).
EXPORT_PAGE = 20_000
# How often progress is reported: by rows, so that the clock is read rarely.
PROGRESS_EVERY = 50_000

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class CsvError(InvalidInput):
    """A file that is not readings CSV; the message names the line and what is wrong, in pt-BR."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Rows handled so far, and of the input's bytes, how many were read (total 0 if unknown)."""

    rows: int
    bytes_read: int
    bytes_total: int
    elapsed_s: float


@dataclass(slots=True)
class ImportReport:
    linhas: int = 0
    novas: int = 0
    duplicadas: int = 0
    por_medidor: dict[str, list[int]] = field(default_factory=dict)  # id -> [novas, duplicadas]
    segundos: float = 0.0


def meters_by_id(docs: DocumentStore) -> dict[str, Meter]:
    return {meter.id: meter for meter in (Meter.from_doc(doc) for doc in docs.all(METERS))}


# -- one row ------------------------------------------------------------------------------------

def parse_ts(text: str) -> int:
    """Epoch milliseconds, or ISO 8601 with an offset, to epoch milliseconds (exactly)."""
    if text.isdigit():
        return int(text)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidReading(f"ts não é uma data ISO 8601 nem milissegundos: {text!r}") from None
    if moment.tzinfo is None:
        raise InvalidReading(f"ts sem fuso horário (use Z ou ±HH:MM): {text!r}")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _medidas(text: str) -> tuple:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidReading("medidas deve ser um objeto JSON") from None
    if not isinstance(doc, dict):
        raise InvalidReading("medidas deve ser um objeto JSON")
    return tuple(sorted((code, tuple(v) if isinstance(v, list) else v) for code, v in doc.items()))


def parse_row(row: list[str], width: int) -> tuple[str, Reading]:
    """(meter id, reading) of one data row whose first `width` columns follow HEADER."""
    if len(row) != width:
        raise InvalidReading(f"esperadas {width} colunas, vieram {len(row)}")
    try:
        seq = int(row[1])
        energia = float(row[3])
    except ValueError:
        raise InvalidReading("seq deve ser inteiro e energia_wh um número") from None
    potencia = None
    estimada = False
    medidas: tuple = ()
    if width > 4:
        text = row[4]
        if text:
            try:
                potencia = float(text)
            except ValueError:
                raise InvalidReading("potencia_w deve ser um número ou vazio") from None
        if width > 5 and row[5]:
            if row[5] not in ("0", "1"):
                raise InvalidReading("estimada deve ser 0, 1 ou vazio")
            estimada = row[5] == "1"
        if width > 6 and row[6]:
            medidas = _medidas(row[6])
    try:
        return row[0], Reading(seq, parse_ts(row[2]), energia, potencia, medidas, estimada)
    except TypeError:  # a measurement that is not a number
        raise InvalidReading("medidas: cada valor deve ser um número ou uma lista de números") from None


def format_row(meter_id: str, reading: Reading, tz) -> list[str]:
    medidas = ""
    if reading.medidas:
        medidas = json.dumps({code: list(v) if isinstance(v, tuple) else v for code, v in reading.medidas},
                             separators=(",", ":"))
    return [meter_id, str(reading.seq), format_timestamp(reading.ts_ms, tz), repr(reading.energia_wh),
            "" if reading.potencia_w is None else repr(reading.potencia_w), "1" if reading.estimada else "0", medidas]


def header_width(header: list[str]) -> int:
    """How many of HEADER's columns the file has (its first line must be a prefix of HEADER)."""
    names = [name.strip().lstrip("\ufeff") for name in header]
    if tuple(names[:4]) != REQUIRED or tuple(names) != HEADER[:len(names)]:
        raise CsvError(f"linha 1: o cabeçalho deve ser {','.join(HEADER)} (as três últimas colunas são opcionais; "
                       f"veio {','.join(names)[:200]})")
    return len(names)


# -- whole files --------------------------------------------------------------------------------

Bounds = Callable[[Meter], tuple[int | None, int | None]]


def export_csv(out: TextIO, meters: Iterable[Meter], store: ReadingsBackend, *,
               bounds: Bounds = lambda _meter: (None, None),
               on_progress: Callable[[Progress], None] | None = None) -> int:
    """Write the header and every reading of `meters` with start <= ts < end (`bounds(meter)`,
    None: unbounded), meter by meter in time order; return how many readings were written."""
    started = time.monotonic()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    written = 0
    for meter in meters:
        tz = meter.tz
        start_ms, end_ms = bounds(meter)
        for reading in _readings_of(store, meter.stream, start_ms, end_ms):
            writer.writerow(format_row(meter.id, reading, tz))
            written += 1
            if on_progress is not None and written % PROGRESS_EVERY == 0:
                on_progress(Progress(written, 0, 0, time.monotonic() - started))
    if on_progress is not None:
        on_progress(Progress(written, 0, 0, time.monotonic() - started))
    return written


def _readings_of(store: ReadingsBackend, stream: str, start_ms: int | None, end_ms: int | None) -> Iterator[Reading]:
    """Every reading of `stream` in [start, end), paging by ts: the next page starts at the last
    page's final stamp and skips the seqs already given at it."""
    given: set[int] = set()  # seqs given at stamp `start_ms`
    while True:
        page = store.readings(stream, start_ms, end_ms, EXPORT_PAGE)
        yield from (r for r, _ in page if r.ts_ms != start_ms or r.seq not in given)
        if len(page) < EXPORT_PAGE:
            return
        top = page[-1][0].ts_ms
        if top == page[0][0].ts_ms:
            # A whole page shares one stamp (thousands of readings in one millisecond): take
            # every reading of that stamp at once, then go on after it.
            given.update(r.seq for r, _ in page)
            rest = store.readings(stream, top, top + 1, store.count(stream))
            yield from (r for r, _ in rest if r.seq not in given)
            start_ms, given = top + 1, set()
            continue
        given = {r.seq for r, _ in page if r.ts_ms == top}
        start_ms = top
