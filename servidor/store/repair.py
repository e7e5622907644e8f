"""`servidor reparar`: repair damaged readings files, or set orphaned readings aside; report.

Run with the server stopped (the readings directory's lock is taken, so a running server is
refused, never raced). For each damaged journal, segment or deleted-streams file, every
intact record is kept, also those after the damage (the scan resynchronises on the next
valid record), the original is kept in `danificados/` beside a report, and the repaired
file takes its place atomically. A crash midway leaves the original in place (and perhaps
its copy aside): running the command again finishes the job.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from shared import argparse_pt

from .errors import StoreError
from .layout import inspect
from .readings import frames
from .readings.codec import (
    HEADER_SIZE,
    JOURNAL_MAGIC,
    JOURNAL_VERSION,
    SEGMENT_MAGIC,
    SEGMENT_VERSION,
    check_record,
    describe_record,
    file_header,
    header_damage,
    journal_plausible,
    record_torn,
)
from .readings.deleted import DELETED_NAME, encode_deleted, scan_deleted
from .readings.errors import Damage, StoreCorrupt, StoreLocked
from .readings.files import DirectoryLock, fsync_dir, remove, scan, write_atomic
from .readings.journal import cut_torn_tail
from .readings.segment_codec import encode_segment, scan_segment

ASIDE_DIR = "danificados"
# The CLI's exit codes (servidor/cli.py documents them): 4 store unusable, 5 newer format.
EXIT_OK, EXIT_FAILED, EXIT_TOO_NEW = 0, 4, 5


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What the command found and did, as pt-BR lines; `report_path` if a report was written."""

    title: str
    lines: tuple[str, ...] = ()
    report_path: Path | None = None

    def text(self) -> str:
        body = self.lines or ["nenhum dano encontrado: nada foi alterado"]
        return "\n".join([self.title, *(f"- {line}" for line in body)])


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def _set_aside(path: Path, aside_dir: Path, stamp: str) -> Path:
    """Keep the original of `path` in `aside_dir` (a hard link: no copy, no space needed)."""
    aside_dir.mkdir(exist_ok=True)
    aside = aside_dir / f"{path.name}.{stamp}"
    try:
        os.link(path, aside)
    except OSError:  # a file system without hard links
        shutil.copy2(path, aside)
    fsync_dir(aside_dir)
    fsync_dir(aside_dir.parent)
    return aside


def _journal_repair(data: bytes, name: str, active: bool) -> tuple[bytes, list[Damage], int, int]:
    """(repaired file, damages, records kept, bytes of torn tail) of a journal."""
    damaged = header_damage(data, JOURNAL_MAGIC, name, JOURNAL_VERSION)
    found = frames.scan_frames(data, HEADER_SIZE, name, journal_plausible, check_record, describe_record,
                               record_torn if active else None)
    damages = ([damaged] if damaged else []) + list(found.damages)
    kept = b"".join(data[a:b] for a, b in found.spans)
    return file_header(JOURNAL_MAGIC, JOURNAL_VERSION) + kept, damages, len(found.spans), found.torn


def repair_readings(directory: Path, durable: bool = True) -> RepairReport:
    """Repair every damaged file of the readings store in `directory`. StoreLocked while a
    server has it open; StoreCorrupt for a format newer than this program's."""
    stamp = _stamp()
    title = f"reparo das leituras em {directory} ({stamp})"
    lines: list[str] = []
    report_path = None
    aside_dir = directory / ASIDE_DIR
    lock = DirectoryLock(directory, durable)
    try:
        journals, segments = scan(directory, remove_temps=True)
        numbers = sorted(journals.keys() | segments.keys())
        active = numbers[-1] if numbers and numbers[-1] in journals else None
        for number, path in sorted(journals.items()):
            if number in segments:
                continue  # already compacted: the server removes it at open
            data = path.read_bytes()
            repaired, damages, kept, torn = _journal_repair(data, path.name, number == active)
            if not damages:
                if torn:
                    cut_torn_tail(path, len(data) - torn, durable)
                    lines.append(f"{path.name}: registro incompleto no fim ({torn} bytes) descartado; "
                                        "nunca tinha sido confirmado")
                continue
            aside = _set_aside(path, aside_dir, stamp)
            write_atomic(path, repaired, durable=durable)
            lines += [d.describe() for d in damages]
            lines.append(f"{path.name}: {kept} registro(s) íntegro(s) mantido(s); original em "
                                f"{ASIDE_DIR}/{aside.name}")
        for _, path in sorted(segments.items()):
            found = scan_segment(path.read_bytes(), path.name)
            if not found.damages:
                continue
            aside = _set_aside(path, aside_dir, stamp)
            if found.spans:  # framed: the intact frames as they are
                data = path.read_bytes()
                kept = b"".join(data[a:b] for a, b in found.spans)
                write_atomic(path, file_header(SEGMENT_MAGIC, SEGMENT_VERSION) + kept, durable=durable)
            elif found.meters:  # an old one-block segment whose header alone was damaged
                write_atomic(path, encode_segment(list(found.meters)), durable=durable)
            else:
                remove(path, durable)
            lines += [d.describe() for d in found.damages]
            lines.append(f"{path.name}: {len(found.meters)} trecho(s) íntegro(s) mantido(s); original em "
                                f"{ASIDE_DIR}/{aside.name}")
        deleted = directory / DELETED_NAME
        if deleted.exists():
            found = scan_deleted(deleted.read_bytes())
            if found.damages:
                aside = _set_aside(deleted, aside_dir, stamp)
                write_atomic(deleted, encode_deleted(list(found.values)), durable=durable)
                lines += [d.describe() for d in found.damages]
                lines.append(f"{DELETED_NAME}: {len(found.values)} chave(s) apagada(s) mantida(s); original em "
                                    f"{ASIDE_DIR}/{aside.name}. Se um medidor apagado voltar a mostrar leituras, "
                                    "apague-o de novo")
        if any(ASIDE_DIR in line for line in lines):
            report_path = aside_dir / f"reparo-{stamp}.txt"
            text = RepairReport(title, tuple(lines)).text()
            write_atomic(report_path, (text + "\n").encode("utf-8"), durable=durable)
    finally:
        lock.release()
    return RepairReport(title, tuple(lines), report_path)


def set_orphans_aside(readings: Path, durable: bool = True) -> RepairReport:
    """Rename a readings directory whose documents are gone, so the server starts empty."""
    stamp = _stamp()
    target = readings.with_name(f"{readings.name}.orfas-{stamp}")
    lock = DirectoryLock(readings, durable)
    try:
        readings.rename(target)
        if durable:
            fsync_dir(target.parent)
    finally:
        lock.release()
    return RepairReport(f"leituras sem banco de documentos em {readings} ({stamp})", (
        f"as leituras foram guardadas em {target.name}/ (nada foi apagado); para voltar atrás, restaure o banco e "
        f"renomeie a pasta de volta para {readings.name}/",))


def repair(db_path: Path, readings: Path, durable: bool = True) -> RepairReport:
    """The whole command: orphaned readings set aside, or damaged readings files repaired."""
    facts = inspect(db_path, readings)
    if facts.orphaned_readings:
        return set_orphans_aside(readings, durable)
    if not readings.is_dir():
        return RepairReport(f"nenhuma pasta de leituras em {readings}")
    return repair_readings(readings, durable)


def command(argv: list[str], readings_dir: Callable[[Path], Path]) -> int:
    """`servidor reparar [--db PATH]`: print the report, return the exit code."""
    parser = argparse_pt.parser(
        prog="servidor reparar",
        description="Repara as leituras danificadas (mantém todo registro íntegro, guarda os originais em "
                    f"{ASIDE_DIR}/ e escreve um relatório), ou guarda de lado leituras cujo banco sumiu. "
                    "Rode com o servidor parado.")
    parser.add_argument("--db", type=Path, default=Path(os.environ.get("MONITOR_DB", "db.json")),
                        help="banco de documentos do servidor (padrão: ./db.json); as leituras ficam ao lado")
    args = parser.parse_args(argv)
    db = args.db.resolve()
    try:
        report = repair(db, readings_dir(db))
    except StoreLocked as exc:
        print(f"servidor reparar: {exc}: pare o servidor antes", file=sys.stderr)
        return EXIT_FAILED
    except StoreCorrupt as exc:
        print(f"servidor reparar: {exc}", file=sys.stderr)
        return EXIT_TOO_NEW if "mais nova" in str(exc) else EXIT_FAILED
    except (StoreError, OSError) as exc:
        print(f"servidor reparar: não foi possível reparar: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(report.text())
    if report.report_path is not None:
        print(f"relatório: {report.report_path}")
    return EXIT_OK
