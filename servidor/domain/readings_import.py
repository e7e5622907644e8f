"""`servidor importar`'s engine: a readings CSV (readings_csv.py) into the store, fast.

The file is read in chunks of about 1 MiB (~20,000 rows). A chunk whose rows are all plain
readings of one meter (the usual case: an export lists a meter's readings together) is turned
into columns with one comprehension per column and validated with min/max over them, the same
bounds a Reading checks; any other chunk goes row by row, and a row that is not plain (estimated,
with measurements, or invalid) goes through the full parser, which names the line and the reason.
Readings reach the store as columns (ColumnBatch), 50,000 per append: no Reading object each.
"""
from __future__ import annotations

import csv
import math
import time
from array import array
from itertools import groupby
from typing import Callable, Iterator, Mapping, TextIO

from servidor.domain.meters import Meter
from servidor.domain.readings_csv import (
    PROGRESS_EVERY,
    CsvError,
    ImportReport,
    Progress,
    header_width,
    parse_row,
    parse_ts,
)
from servidor.store.interface import ReadingsBackend
from servidor.store.readings.block import ColumnBatch, Columns
from shared.models import EARLIEST_TS_MS, MAX_COUNTER_WH, MAX_FUTURE_SKEW_MS, MAX_POWER_W, InvalidReading, Reading

# Readings appended per call: well under the journal's 65,536 per record, and large enough that
# the per-call cost (one journal write, one fsync) is spread over many readings.
IMPORT_BATCH = 50_000
# Characters read per chunk (a hint to readlines: whole lines, about this much).
CHUNK_CHARS = 1 << 20
MAX_SEQ = 2**63  # seqs are stored as signed 64-bit integers
NAN = math.nan
NOT_ESTIMATED = frozenset(("", "0"))
# The epoch ms of each "date, hour and offset" seen ("2026-01-01T00" + "-03:00"): an import's
# timestamps repeat them, so the rest of a timestamp is two small integers. Cleared when large.
_HOURS: dict[str, int] = {}
MAX_CACHED_HOURS = 100_000


def fast_ts(text: str) -> int:
    """parse_ts for the common forms (epoch ms; whole seconds with an offset), faster; anything
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


def plain_columns(rows: list[list[str]], width: int, limit_ms: int) -> tuple[str, Columns] | None:
    """(meter id, columns) when every row is a plain, valid reading of one meter (no estimada,
    no measurements, within a Reading's bounds); None for anything else."""
    try:
        if {len(row) for row in rows} != {width} or len({row[0] for row in rows}) != 1:
            return None
        if width > 5 and not {row[5] for row in rows} <= NOT_ESTIMATED:
            return None
        if width > 6 and {row[6] for row in rows} != {""}:
            return None
        seq = array("q", [int(row[1]) for row in rows])
        ts = array("q", [fast_ts(row[2]) for row in rows])
        energia = array("d", [float(row[3]) for row in rows])
        if width > 4:
            texts = [row[4] for row in rows]
            present = [float(text) for text in texts if text]
            if present and not (math.isfinite(sum(present)) and -MAX_POWER_W <= min(present)
                                and max(present) <= MAX_POWER_W):
                return None
            potencia = array("d", present if len(present) == len(texts) else
                             [float(text) if text else NAN for text in texts])
        else:
            potencia = array("d", [NAN]) * len(rows)
    except (ValueError, OverflowError):  # not numbers, or a seq past 64 bits
        return None
    if (min(seq) < 0 or min(ts) < EARLIEST_TS_MS or max(ts) > limit_ms or not math.isfinite(sum(energia))
            or min(energia) < 0.0 or max(energia) > MAX_COUNTER_WH):
        return None
    return rows[0][0], Columns(seq, ts, energia, potencia, array("B", bytes(len(rows))), None)


class _Pending:
    """One meter's rows not yet stored, as the store's columns."""

    __slots__ = ("seq", "ts", "energia", "potencia", "flags", "medidas")

    def __init__(self) -> None:
        self.seq, self.ts = array("q"), array("q")
        self.energia, self.potencia = array("d"), array("d")
        self.flags = array("B")
        self.medidas: list[bytes | None] | None = None

    def __len__(self) -> int:
        return len(self.seq)

    def extend(self, cols: Columns) -> None:
        if cols.medidas is not None and self.medidas is None:
            self.medidas = []
        if self.medidas is not None:  # rows added meanwhile without measurements
            self.medidas += [None] * (len(self.seq) - len(self.medidas))
            self.medidas += cols.medidas if cols.medidas is not None else [None] * len(cols)
        self.seq += cols.seq
        self.ts += cols.ts
        self.energia += cols.energia
        self.potencia += cols.potencia
        self.flags += cols.flags

    def batch(self) -> ColumnBatch:
        if self.medidas is not None and len(self.medidas) < len(self.seq):
            self.medidas += [None] * (len(self.seq) - len(self.medidas))
        return ColumnBatch(Columns(self.seq, self.ts, self.energia, self.potencia, self.flags, self.medidas))


def _chunks(source: TextIO, counted: list[int]) -> Iterator[list[str]]:
    """The file's lines in lists of about CHUNK_CHARS, counting the characters into counted[0]."""
    while True:
        lines = source.readlines(CHUNK_CHARS)
        if not lines:
            return
        counted[0] += sum(map(len, lines))
        yield lines


class _Import:
    def __init__(self, meters: Mapping[str, Meter], store: ReadingsBackend, width: int, limit_ms: int) -> None:
        self.meters, self.store, self.width, self.limit_ms = meters, store, width, limit_ms
        self.pending: dict[str, _Pending] = {}
        self.report = ImportReport()

    def pending_of(self, meter_id: str, line: int) -> _Pending:
        pending = self.pending.get(meter_id)
        if pending is None:
            if meter_id not in self.meters:
                raise CsvError(f"linha {line}: o medidor {meter_id[:64]!r} não existe neste servidor "
                               "(cadastre-o antes de importar)")
            pending = self.pending[meter_id] = _Pending()
        return pending

    def flush(self, meter_id: str) -> None:
        result = self.store.append(self.meters[meter_id].stream, self.pending.pop(meter_id).batch())
        counts = self.report.por_medidor.setdefault(meter_id, [0, 0])
        counts[0] += result.aceitas
        counts[1] += result.duplicadas
        self.report.novas += result.aceitas
        self.report.duplicadas += result.duplicadas

    def flush_full(self, meter_id: str) -> None:
        if len(self.pending[meter_id]) >= IMPORT_BATCH:
            self.flush(meter_id)

    def chunk(self, rows: list[list[str]], first_line: int) -> None:
        """Rows read together, the first on line `first_line`: runs of one meter's plain rows as
        columns, the rest row by row."""
        if self.plain(rows, first_line):
            return
        line = first_line
        for _, run in groupby(rows, key=lambda row: row[0] if row else None):
            run = list(run)
            if not self.plain(run, line):
                self.one_by_one(run, line)
            line += len(run)

    def plain(self, rows: list[list[str]], first_line: int) -> bool:
        found = plain_columns(rows, self.width, self.limit_ms)
        if found is None:
            return False
        meter_id, cols = found
        self.pending_of(meter_id, first_line).extend(cols)
        self.report.linhas += len(rows)
        self.flush_full(meter_id)
        return True

    def one_by_one(self, rows: list[list[str]], first_line: int) -> None:
        for line, row in enumerate(rows, start=first_line):
            if not row:
                continue
            if len(row) != self.width:
                raise CsvError(f"linha {line}: esperadas {self.width} colunas, vieram {len(row)}")
            self.pending_of(row[0], line).extend(Columns.from_readings([self.checked(row, line)]))
            self.report.linhas += 1
            self.flush_full(row[0])

    def checked(self, row: list[str], line: int) -> Reading:
        """The row through the full parser: its reading, or CsvError with the line and reason."""
        try:
            reading = parse_row(row, self.width)[1]
        except InvalidReading as exc:
            raise CsvError(f"linha {line}: {exc}") from None
        if reading.ts_ms > self.limit_ms:
            raise CsvError(f"linha {line}: ts no futuro ({row[2]})")
        return reading


def import_csv(source: TextIO, meters: Mapping[str, Meter], store: ReadingsBackend, *,
               size: int = 0, on_progress: Callable[[Progress], None] | None = None,
               now_ms: int | None = None) -> ImportReport:
    """Store the readings of `source` that `store` does not hold yet. CsvError (naming the line)
    at the first row that is not valid: the rows before it are stored, and importing the
    corrected file again adds only the rest."""
    started = time.monotonic()
    limit_ms = (int(time.time() * 1000) if now_ms is None else now_ms) + MAX_FUTURE_SKEW_MS
    counted = [0]
    chunks = _chunks(source, counted)
    lines = next(chunks, [])
    try:
        header = next(csv.reader(lines[:1]))
    except StopIteration:
        raise CsvError("arquivo vazio: falta o cabeçalho") from None
    except csv.Error as exc:
        raise CsvError(f"linha 1: {exc}") from None
    job = _Import(meters, store, header_width(header), limit_ms)
    lines, first_line, next_report = lines[1:], 2, PROGRESS_EVERY
    try:
        while True:
            try:
                rows = list(csv.reader(lines))
            except csv.Error as exc:
                raise CsvError(f"linhas {first_line} a {first_line + len(lines) - 1}: {exc}") from None
            job.chunk(rows, first_line)
            first_line += len(lines)
            if on_progress is not None and job.report.linhas >= next_report:
                next_report = job.report.linhas + PROGRESS_EVERY
                on_progress(Progress(job.report.linhas, counted[0], size, time.monotonic() - started))
            lines = next(chunks, None)
            if lines is None:
                break
    finally:
        for meter_id in list(job.pending):  # what was valid before an error is kept: re-import adds the rest
            job.flush(meter_id)
    job.report.segundos = time.monotonic() - started
    if on_progress is not None:
        on_progress(Progress(job.report.linhas, counted[0], size, job.report.segundos))
    return job.report
