"""Readings as CSV: the header, one row per reading, and the import and export of whole files.

The format (docs/dados.md documents it for users):

    medidor,seq,ts,energia_wh,potencia_w,estimada,medidas

* `medidor`: the meter's id; `seq`: the number the meter gave the reading (it identifies the
  reading: a seq the meter already has is a duplicate, which makes an import idempotent);
* `ts`: ISO 8601 with an offset (exported in the meter's zone) or epoch milliseconds;
* `energia_wh`: the cumulative counter; `potencia_w`, `estimada` (0/1) and `medidas` (a JSON
  object of Tesla measurement codes) may be empty, and the last three columns may be absent.

Export walks each meter's readings in time order from the store; import parses, validates as the
API does, groups rows per meter and appends them in large batches (the store's bulk path).
"""
from __future__ import annotations

import csv
import json
import math
import time
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import chain
from typing import Callable, Iterable, Iterator, Mapping, TextIO

from servidor.domain.errors import InvalidInput
from servidor.domain.meters import Meter
from servidor.domain.registry import METERS
from servidor.store.documents import DocumentStore
from servidor.store.interface import ReadingsBackend
from servidor.store.readings.block import ColumnBatch, Columns
from shared.models import (
    EARLIEST_TS_MS,
    MAX_COUNTER_WH,
    MAX_FUTURE_SKEW_MS,
    MAX_POWER_W,
    InvalidReading,
    Reading,
    format_timestamp,
)

HEADER = ("medidor", "seq", "ts", "energia_wh", "potencia_w", "estimada", "medidas")
REQUIRED = HEADER[:4]
# Readings appended per call: well under the journal's 65,536 per record, and large enough that
# the per-call cost (one journal write, one fsync) is spread over many readings.
IMPORT_BATCH = 50_000
# Readings read from the store per call while exporting (the store's lock is held for each).
EXPORT_PAGE = 20_000
# How often progress is reported: by rows, so that the clock is read rarely.
PROGRESS_EVERY = 50_000

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_SEQ = 2**63  # seqs are stored as signed 64-bit integers
NAN = math.nan
_NOT_ESTIMATED = ("", "0")


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

class _Pending:
    """One meter's rows not yet stored, as the store's columns: a plain row (no measurements,
    not estimated) goes in without a Reading object, which is most of what makes import fast."""

    __slots__ = ("seq", "ts", "energia", "potencia", "flags", "medidas")

    def __init__(self) -> None:
        self.seq, self.ts = array("q"), array("q")
        self.energia, self.potencia = array("d"), array("d")
        self.flags = array("B")
        self.medidas: list[bytes | None] | None = None

    def __len__(self) -> int:
        return len(self.seq)

    def add_reading(self, reading: Reading) -> None:
        cols = Columns.from_readings([reading])
        if cols.medidas is not None and self.medidas is None:
            self.medidas = []
        if self.medidas is not None:  # plain rows appended meanwhile have no measurements
            self.medidas += [None] * (len(self.seq) - len(self.medidas))
            self.medidas.append(cols.medidas[0] if cols.medidas is not None else None)
        self.seq += cols.seq
        self.ts += cols.ts
        self.energia += cols.energia
        self.potencia += cols.potencia
        self.flags += cols.flags

    def batch(self) -> ColumnBatch:
        if self.medidas is not None and len(self.medidas) < len(self.seq):
            self.medidas += [None] * (len(self.seq) - len(self.medidas))
        return ColumnBatch(Columns(self.seq, self.ts, self.energia, self.potencia, self.flags, self.medidas))


# The epoch ms of each "date, hour and offset" seen ("2026-01-01T00" + "-03:00"): an import's
# timestamps repeat them, so the rest of a timestamp is two small integers. Cleared when large.
_HOURS: dict[str, int] = {}
MAX_CACHED_HOURS = 100_000


def _fast_ts(text: str) -> int:
    """parse_ts for the common forms (epoch ms, whole seconds with an offset), faster; anything
    else through parse_ts. ValueError (InvalidReading) for what is not a time."""
    if text.isdigit():
        return int(text)
    if len(text) == 25 and text[13] == ":" and text[16] == ":":
        key = text[:13] + text[19:]
        base = _HOURS.get(key)
        if base is None:
            if len(_HOURS) >= MAX_CACHED_HOURS:
                _HOURS.clear()
            base = _HOURS[key] = parse_ts(f"{text[:13]}:00:00{text[19:]}")
        minutes, seconds = text[14:16], text[17:19]
        if minutes.isdigit() and seconds.isdigit() and minutes < "60" and seconds < "60":
            return base + int(minutes) * 60_000 + int(seconds) * 1000
    return parse_ts(text)


def _chunks(source: TextIO, counted: list[int]) -> Iterator[list[str]]:
    """The file's lines in lists of about 1 MiB, counting the characters read into counted[0]."""
    while True:
        lines = source.readlines(1 << 20)
        if not lines:
            return
        counted[0] += sum(map(len, lines))
        yield lines


def import_csv(source: TextIO, meters: Mapping[str, Meter], store: ReadingsBackend, *,
               size: int = 0, on_progress: Callable[[Progress], None] | None = None,
               now_ms: int | None = None) -> ImportReport:
    """Store the readings of `source` that `store` does not hold yet. CsvError (naming the line)
    at the first row that is not valid: the rows before it are stored, and importing the
    corrected file again adds only the rest."""
    started = time.monotonic()
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    limit_ms = now_ms + MAX_FUTURE_SKEW_MS
    counted = [0]
    rows = csv.reader(chain.from_iterable(_chunks(source, counted)))
    report = ImportReport()
    try:
        width = header_width(next(rows))
    except StopIteration:
        raise CsvError("arquivo vazio: falta o cabeçalho") from None
    except csv.Error as exc:
        raise CsvError(f"linha 1: {exc}") from None
    pending: dict[str, _Pending] = {}

    def flush(meter_id: str) -> None:
        result = store.append(meters[meter_id].stream, pending.pop(meter_id).batch())
        counts = report.por_medidor.setdefault(meter_id, [0, 0])
        counts[0] += result.aceitas
        counts[1] += result.duplicadas
        report.novas += result.aceitas
        report.duplicadas += result.duplicadas

    def checked(row: list[str]) -> Reading:
        """The row through the full parser: its reading, or CsvError with the line and reason."""
        try:
            reading = parse_row(row, width)[1]
        except InvalidReading as exc:
            raise CsvError(f"linha {rows.line_num}: {exc}") from None
        if reading.ts_ms > limit_ms:
            raise CsvError(f"linha {rows.line_num}: ts no futuro ({row[2]})")
        return reading

    flagged, measured = width > 5, width > 6  # a row with estimada 1 or measurements is not plain
    last_id, last, count, next_report = None, None, 0, PROGRESS_EVERY
    try:
        for row in rows:
            if len(row) != width:
                if not row:
                    continue
                raise CsvError(f"linha {rows.line_num}: esperadas {width} colunas, vieram {len(row)}")
            meter_id = row[0]
            if meter_id != last_id or last is None:
                last = pending.get(meter_id)
                if last is None:
                    if meter_id not in meters:
                        raise CsvError(f"linha {rows.line_num}: o medidor {meter_id[:64]!r} não existe neste servidor "
                                       "(cadastre-o antes de importar)")
                    last = pending[meter_id] = _Pending()
                last_id = meter_id
                last_seq = last.seq
                add_seq, add_ts, add_energia = last_seq.append, last.ts.append, last.energia.append
                add_potencia, add_flags = last.potencia.append, last.flags.append
            try:
                seq, ts, energia = int(row[1]), _fast_ts(row[2]), float(row[3])
                power = float(row[4]) if width > 4 and row[4] else None
            except ValueError:
                seq = -1
            if (seq < 0 or seq >= MAX_SEQ or not EARLIEST_TS_MS <= ts <= limit_ms or not 0.0 <= energia <= MAX_COUNTER_WH
                    or (power is not None and not -MAX_POWER_W <= power <= MAX_POWER_W)
                    or (flagged and (row[5] not in _NOT_ESTIMATED or (measured and row[6] != "")))):
                last.add_reading(checked(row))
            else:
                add_seq(seq)
                add_ts(ts)
                add_energia(energia)
                add_potencia(NAN if power is None else power)
                add_flags(0)
            count += 1
            if len(last_seq) >= IMPORT_BATCH:
                flush(meter_id)
                last = None
            if count >= next_report:
                next_report += PROGRESS_EVERY
                if on_progress is not None:
                    on_progress(Progress(count, counted[0], size, time.monotonic() - started))
    except csv.Error as exc:
        raise CsvError(f"linha {rows.line_num}: {exc}") from None
    finally:
        report.linhas = count
        for meter_id in list(pending):  # what was valid before an error is kept: re-import adds the rest
            flush(meter_id)
    report.segundos = time.monotonic() - started
    if on_progress is not None:
        on_progress(Progress(report.linhas, counted[0], size, report.segundos))
    return report


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
