"""`servidor migrar --de ORIGEM --para DESTINO`: a server's whole store, from the embedded store
(db.json and the readings beside it) to PostgreSQL, or back into a new db.json.

The copy itself is servidor/store/migration.py (readings through the destination's own append,
page by page, resumable; documents replaced whole; a marker naming the source) and
servidor/store/side_migration.py (blinks and events). Here: which side is which, the refusals (a
source a running server holds, a destination holding other data, a bad or unreachable URL), the
progress, the check at the end and its summary.
"""
from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from servidor.app import blinks_dir, events_dir, readings_dir
from servidor.data_cli import StoppedStore, stopped_store
from servidor.domain.categories import configure_streams
from servidor.domain.event_line import FEATURE_WIDTH as EVENT_WIDTH
from servidor.domain.meters import Meter
from servidor.domain.registry import METERS
from servidor.migrate_report import ProgressBar, Summary
from servidor.store import StoreError
from servidor.store.blinks import BlinkStore
from servidor.store.documents import DocumentStore, StoreTooNew
from servidor.store.events import EventStore
from servidor.store.interface import DocumentsBackend, ReadingsBackend
from servidor.store.layout import inspect
from servidor.store.migration import (
    COPYING, DEFAULT_PAGE, DONE, Marker, copy_documents, copy_stream, documents_of, figures_of, holds_data, now_iso,
)
from servidor.store.readings import ReadingStore
from servidor.store.readings.errors import StoreLocked
from servidor.store.side_migration import Blinks, Events, blink_figures, copy_blinks, copy_events, event_figures
from shared import argparse_pt

EXIT_OK = 0
EXIT_NOT_DONE = 1  # the destination holds other data, or the check found differences
EXIT_USAGE = 2
EXIT_STORE = 4  # a side cannot be opened: in use by a server, unreadable, unreachable
EXIT_STORE_TOO_NEW = 5
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report a command SIGINT ended

EPILOG = """\
exemplos:
  servidor migrar --de /dados/db.json --para postgresql://monitor@db.exemplo/monitor
  servidor migrar --de postgresql://monitor@db.exemplo/monitor --para /dados/novo/db.json

o que vai: todos os documentos (medidores, chaves, tarifas, bandeiras, alertas, comandos, faturas
emitidas, sites), todas as leituras de cada fluxo com os mesmos seq, também as de gerações
antigas de um medidor (id~N), as piscadas dos contadores de pulsos (db.pulsos/) e os eventos do
energy-sensors (db.eventos/); os fluxos apagados continuam apagados. Faturas calculadas depois
são as mesmas, e reenviar leituras antigas continua sem duplicar nada.

antes: pare o servidor da origem (um db.json em uso é recusado) e os servidores do banco. O
destino precisa estar vazio: um db.json que ainda não existe, ou um banco (esquema) sem dados.

interrompido (Ctrl-C, queda de energia, kill -9, conexão perdida)? Rode o mesmo comando de novo:
ele continua de onde parou, sem duplicar nada (cada leitura é gravada uma vez por seq, e os
documentos são substituídos). Até a cópia terminar e ser conferida, nenhum servidor inicia
no destino. Uma cópia concluída não é refeita por cima: para copiar de novo, use um destino vazio.

no fim, cada fluxo é conferido na origem e no destino (quantidade de leituras, uma soma de
verificação de todas elas em ordem, energia total), e também as piscadas, os eventos e os
documentos.

códigos de saída: 0 copiado e conferido; 1 destino com outros dados, cópia já concluída, cópia
interrompida por erro, ou a conferência achou diferenças; 2 opção ou URL inválida; 4 origem em
uso por um servidor, banco ilegível ou PostgreSQL inacessível; 5 banco gravado por versão mais
nova; 130 interrompido com Ctrl-C.
"""


class Refused(Exception):
    """The migration cannot run; `code` is the exit code, the message says why in pt-BR."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Side:
    """One end of the migration: its stores, where it is (for people, and for the marker), and
    for the embedded store, how to open its files again (the check reads what a server would)."""

    docs: DocumentsBackend
    readings: ReadingsBackend
    blinks: Blinks
    events: Events
    place: str
    reopen: Callable[[], None] | None = None
    # PostgreSQL keeps each stream's time zone and counter policy; the embedded store is told
    # them at every start, from the meters.
    keeps_settings: bool = False

    def holds_data(self) -> bool:
        return holds_data(self.docs, self.readings) or bool(self.blinks.streams() or self.events.count)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse_pt.parser(
        prog="servidor migrar", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Copia tudo de um armazenamento para outro: do embutido (db.json e as leituras ao lado) para "
                    "um PostgreSQL, ou de um PostgreSQL para um db.json novo; e confere a cópia no fim.")
    parser.add_argument("--de", required=True, metavar="ORIGEM",
                        help="o caminho do db.json do servidor, ou a URL postgresql://usuário@máquina/banco")
    parser.add_argument("--para", required=True, metavar="DESTINO",
                        help="a URL postgresql://… de um banco vazio, ou o caminho de um db.json novo")
    parser.add_argument("--lote", type=int, default=DEFAULT_PAGE, metavar="N",
                        help=f"leituras (ou piscadas, ou eventos) por transação (padrão: {DEFAULT_PAGE}); uma interrupção "
                             "refaz no máximo um lote")
    parser.add_argument("--silencioso", action="store_true", help="não mostra o andamento")
    return parser


def _is_postgres(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))


def _check_ends(source: str, destination: str) -> None:
    for text in (source, destination):
        if "://" in text and not _is_postgres(text):
            raise Refused(EXIT_USAGE, f"{text}: use o caminho de um db.json ou uma URL postgresql://")
    kinds = (_is_postgres(source), _is_postgres(destination))
    if kinds == (False, False):
        raise Refused(EXIT_USAGE, "um dos lados deve ser um PostgreSQL (postgresql://…); para copiar um db.json "
                                  "para outro lugar use `servidor backup` e `servidor restaurar`")
    if kinds == (True, True):
        raise Refused(EXIT_USAGE, "os dois lados são PostgreSQL: copie um banco para outro com pg_dump e pg_restore")


def _open_postgres(url: str, stack: ExitStack) -> Side:
    from servidor.store.postgres import BadUrl, SchemaTooNew, open_postgres, probe

    try:
        probe(url)
        docs, readings = open_postgres(url, listen=False)
    except BadUrl as exc:
        raise Refused(EXIT_USAGE, str(exc)) from None
    except SchemaTooNew as exc:
        raise Refused(EXIT_STORE_TOO_NEW, str(exc)) from None
    except StoreError as exc:
        raise Refused(EXIT_STORE, str(exc)) from None
    stack.callback(docs.close)
    stack.callback(readings.close)
    running = readings.servers_listening()
    if running:
        raise Refused(EXIT_STORE, f"{running} servidor(es) usam {docs.place} agora: pare-os antes de migrar")
    blinks, events = docs.side_stores(EVENT_WIDTH)
    stack.callback(blinks.close)
    stack.callback(events.close)
    return Side(docs, readings, blinks, events, docs.place, keeps_settings=True)


def _open_side_files(db: Path, stack: ExitStack) -> tuple[BlinkStore, EventStore]:
    """db.pulsos/ and db.eventos/ beside `db` (their readings' lock, taken before, guards them)."""
    try:
        blinks, events = BlinkStore.open(blinks_dir(db)), EventStore(events_dir(db), EVENT_WIDTH)
    except StoreError as exc:
        raise Refused(EXIT_STORE, f"não foi possível abrir os pulsos ou os eventos ao lado de {db}: {exc}") from None
    stack.callback(blinks.close)
    stack.callback(events.close)
    return blinks, events


def _open_embedded_source(path: str, stack: ExitStack) -> Side:
    db = Path(path).resolve()
    try:
        docs, readings = stack.enter_context(stopped_store(db))
    except StoppedStore as exc:
        raise Refused(exc.code, str(exc)) from None
    problem = inspect(db, readings_dir(db)).problem()
    if problem:
        raise Refused(EXIT_STORE, problem)
    return Side(docs, readings, *_open_side_files(db, stack), str(db))


def _open_embedded_destination(path: str, stack: ExitStack) -> Side:
    db = Path(path).resolve()
    folder = readings_dir(db)

    def open_readings() -> ReadingStore:
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
            store = ReadingStore.open(folder)
        except StoreLocked:
            raise Refused(EXIT_STORE, f"o servidor que usa {db} está rodando: pare-o antes") from None
        except (StoreError, OSError) as exc:
            raise Refused(EXIT_STORE, f"não foi possível abrir as leituras em {folder}: {exc}") from None
        stack.callback(store.close)
        return store

    readings = open_readings()  # first: its lock keeps a server from starting on the files
    try:
        docs = DocumentStore.open(db)
    except StoreTooNew as exc:
        raise Refused(EXIT_STORE_TOO_NEW, str(exc)) from None
    except (StoreError, OSError) as exc:
        raise Refused(EXIT_STORE, f"não foi possível abrir o banco {db}: {exc}") from None
    stack.callback(docs.close)
    side = Side(docs, readings, *_open_side_files(db, stack), str(db))

    def reopen() -> None:
        for store in (side.readings, side.blinks, side.events):
            store.close()
        side.readings = open_readings()
        side.blinks, side.events = _open_side_files(db, stack)

    side.reopen = reopen
    return side


def _check_destination(source: Side, destination: Side) -> Marker | None:
    """The marker of an unfinished copy from this source to resume, None for an empty destination;
    Refused for anything else."""
    marker = Marker.of(destination.docs)
    if marker is None:
        if destination.holds_data():
            raise Refused(EXIT_NOT_DONE, f"o destino {destination.place} não está vazio: a migração só escreve num "
                                         "destino vazio (ou retoma uma cópia interrompida da mesma origem)")
        return None
    if marker.source != source.place:
        raise Refused(EXIT_NOT_DONE, f"o destino {destination.place} recebe uma cópia de {marker.source}, não de "
                                     f"{source.place}: termine aquela, ou use um destino vazio")
    if marker.state == DONE:
        raise Refused(EXIT_NOT_DONE, f"a cópia de {source.place} para {destination.place} já foi concluída e conferida "
                                     f"em {marker.finished_at}; o destino pode ter mudado desde então. Para copiar "
                                     "de novo, use um destino vazio")
    return marker


def migrate(source: Side, destination: Side, page: int, bar: ProgressBar) -> Summary:
    """Copy everything from `source` into `destination` and check it; the summary of both."""
    marker = _check_destination(source, destination)
    started_at = marker.started_at if marker else now_iso()
    Marker(source.place, COPYING, started_at).save(destination.docs)
    meters = [Meter.from_doc(doc) for doc in source.docs.all(METERS)]
    if not source.keeps_settings:  # a source database is only read
        configure_streams(source.readings, meters)
    configure_streams(destination.readings, meters)  # before the readings: rollups by the right policy
    deleted = source.readings.deleted_streams()
    for key in deleted:
        if not destination.readings.is_deleted(key):
            destination.readings.delete_meter(key)
    summary = Summary(source.place, destination.place, resumed=marker is not None, deleted=len(deleted))
    _copy(source, destination, page, bar, summary)
    tables = copy_documents(source.docs, destination.docs)
    summary.tables, summary.documents = len(tables), sum(len(rows) for rows in tables.values())

    started = time.monotonic()
    if destination.reopen is not None:
        destination.reopen()
    readings = destination.readings
    configure_streams(readings, meters)
    bar.phase("conferindo o destino", sum(c.read for c in summary.copied.values()), "itens")
    for stream in sorted(summary.source.keys() | set(readings.meters())):
        summary.destination[stream] = figures_of(readings, stream, page, bar.advance)
    for stream in sorted(summary.blinks_source.keys() | set(destination.blinks.streams())):
        summary.blinks_destination[stream] = blink_figures(destination.blinks, stream, bar.advance)
    summary.events_destination = event_figures(destination.events, bar.advance)
    summary.deleted_missing = [key for key in deleted if not readings.is_deleted(key)]
    summary.documents_equal = documents_of(destination.docs) == tables
    summary.check_s = time.monotonic() - started
    bar.end()
    if summary.ok:
        Marker(source.place, DONE, started_at, now_iso()).save(destination.docs)
    return summary


def _copy(source: Side, destination: Side, page: int, bar: ProgressBar, summary: Summary) -> None:
    """Readings, then blinks, then events, each with what it read, wrote and took."""
    copied, started = summary.copied["leituras"], time.monotonic()
    streams = source.readings.meters()
    bar.phase("copiando leituras", sum(source.readings.count(s) for s in streams))
    for stream in streams:
        summary.source[stream] = copy_stream(source.readings, destination.readings, stream, page,
                                             lambda read, stored: (bar.advance(read), copied.add(read, stored)))
    copied.seconds = time.monotonic() - started

    copied, started = summary.copied["pulsos"], time.monotonic()
    streams = source.blinks.streams()
    bar.phase("copiando pulsos", sum(source.blinks.count(s) for s in streams), "pulsos")
    for stream in streams:
        before = destination.blinks.count(stream)
        found = summary.blinks_source[stream] = copy_blinks(source.blinks, destination.blinks, stream, page,
                                                            bar.advance)
        copied.add(found.count, destination.blinks.count(stream) - before)
    copied.seconds = time.monotonic() - started

    copied, started = summary.copied["eventos"], time.monotonic()
    before = destination.events.count
    bar.phase("copiando eventos", source.events.count, "eventos")
    summary.events_source = copy_events(source.events, destination.events, page, bar.advance)
    copied.add(summary.events_source.count, destination.events.count - before)
    copied.seconds = time.monotonic() - started


def main(argv: list[str]) -> int:
    prog = "servidor migrar"
    args = build_parser().parse_args(argv)
    if args.lote < 1:
        return _fail(prog, EXIT_USAGE, "--lote deve ser pelo menos 1")
    bar = ProgressBar(quiet=args.silencioso)
    try:
        _check_ends(args.de, args.para)
        with ExitStack() as stack:
            source = (_open_postgres if _is_postgres(args.de) else _open_embedded_source)(args.de, stack)
            destination = (_open_postgres if _is_postgres(args.para) else _open_embedded_destination)(args.para, stack)
            summary = migrate(source, destination, args.lote, bar)
    except Refused as exc:
        return _fail(prog, exc.code, str(exc))
    except KeyboardInterrupt:
        return _fail(prog, EXIT_INTERRUPTED, "interrompido. O que já foi copiado fica no destino: rode o mesmo "
                                             "comando para continuar de onde parou, sem duplicar nada")
    except StoreError as exc:
        return _fail(prog, EXIT_NOT_DONE, f"a cópia parou: {exc}. O que já foi copiado fica no destino: resolva "
                                          "e rode o mesmo comando para continuar de onde parou")
    finally:
        bar.end()
    summary.print(sys.stdout)
    if not summary.ok:
        return _fail(prog, EXIT_NOT_DONE, summary.problem())
    return EXIT_OK


def _fail(prog: str, code: int, message: str) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return code

