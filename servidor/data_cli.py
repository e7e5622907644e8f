"""`servidor exportar` and `servidor importar`: readings out to CSV and in from it.

Both work on the store directly, as `servidor reparar` does: the readings directory's lock is
taken, so a running server is never raced. Importing directly is what makes a million readings
take seconds: rows go into the store in batches of 50,000, one journal write and one fsync each,
where the API takes at most 1,000 per request, each parsed as JSON and answered over HTTP. So
`importar` wants the server stopped (while it runs, an agent or a script can still send history
through the API's batches). `exportar` with the server running asks it for a snapshot (the
backup's, through its inbox: one instant, taken under its locks) in a temporary folder beside
its files, and exports that.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator, TextIO

from servidor.app import readings_dir
from servidor.domain.readings_csv import HEADER, CsvError, Progress, export_csv, meters_by_id
from servidor.domain.readings_import import import_csv
from servidor.store.readings.rollups import local_midnight_ms
from servidor.store import StoreError
from servidor.store.documents import DocumentStore
from servidor.store.inbox import Inbox, inbox_dir
from servidor.store.readings import ReadingStore
from servidor.store.readings.errors import StoreLocked
from shared import argparse_pt

EXIT_OK = 0
EXIT_INVALID = 1  # the file is not readings CSV, or names an unknown meter
EXIT_USAGE = 2
EXIT_STORE = 4  # the store cannot be opened (in use by a running server, damaged)

DB_HELP = "o banco do servidor (padrão: ./db.json ou MONITOR_DB); as leituras ficam ao lado"


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, metavar="ARQUIVO", default=Path(os.environ.get("MONITOR_DB", "db.json")), help=DB_HELP)


def _fail(prog: str, code: int, message: str) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return code


class StoppedStore(Exception):
    """The store could not be opened; `code` is the exit code, the message says why in pt-BR."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class ServerRunning(StoppedStore):
    """Another process (the server) holds the readings' lock."""


class NotDone(Exception):
    """The running server did not make the snapshot; the message says why, in pt-BR."""


# A running server looks at its inbox every half second: this long without the request being
# claimed means it is stuck (or not there). Once claimed, a snapshot of a large store may take
# minutes to write, and the command waits up to SNAPSHOT_WAIT_S for it.
CLAIM_WAIT_S = 15.0
SNAPSHOT_WAIT_S = 3600.0


def snapshot_by_server(db: Path, destination: Path) -> int:
    """Ask the server running on `db` for a backup into `destination` (servidor/store/inbox.py:
    it takes the snapshot under its locks); the readings it holds. NotDone otherwise."""
    inbox = Inbox(inbox_dir(db))
    try:
        request_id = inbox.submit({"pedido": "backup", "destino": str(destination)})
    except OSError as exc:
        raise NotDone(f"não foi possível deixar o pedido em {inbox.directory}: {exc}") from exc
    answer = inbox.wait(request_id, CLAIM_WAIT_S)
    if answer is None and not inbox.withdraw(request_id):
        answer = inbox.wait(request_id, SNAPSHOT_WAIT_S)  # claimed: the server is writing it
    if answer is None:
        raise NotDone(f"o servidor que usa {db} não respondeu; nada foi feito. Ele está travado? Pare-o e rode o "
                      "comando de novo.")
    if not answer.get("ok"):
        raise NotDone(f"o servidor não fez a cópia: {answer.get('erro')}")
    return int(answer.get("leituras", 0))


@contextmanager
def stopped_store(db: Path) -> Iterator[tuple[DocumentStore, ReadingStore]]:
    """Both stores of the server whose documents are `db`, opened here (the server must be stopped)."""
    if not db.exists():
        raise StoppedStore(EXIT_USAGE, f"o banco {db} não existe (use --db com o caminho do banco do servidor)")
    try:
        docs = DocumentStore.open(db)
    except (StoreError, OSError) as exc:
        raise StoppedStore(EXIT_STORE, f"não foi possível abrir o banco {db}: {exc}") from exc
    try:
        store = ReadingStore.open(readings_dir(db))
    except StoreLocked:
        docs.close()
        raise ServerRunning(EXIT_STORE, f"o servidor que usa {db} está rodando: pare-o antes") from None
    except (StoreError, OSError) as exc:
        docs.close()
        raise StoppedStore(EXIT_STORE, f"não foi possível abrir as leituras em {readings_dir(db)}: {exc}") from exc
    try:
        yield docs, store
    finally:
        store.close()
        docs.close()


def thousands(number: float) -> str:
    """1234567 → "1.234.567", as numbers are written in Portuguese."""
    return f"{number:,.0f}".replace(",", ".")


class ProgressLine:
    """Progress on stderr: one line rewritten in place on a terminal, a line per 10% otherwise."""

    def __init__(self, verb: str, out: TextIO | None = None, things: str = "leituras") -> None:
        self._verb = verb
        self._things = things
        self._out = out = out or sys.stderr
        self._tty = out.isatty()
        self._next_tenth = 1

    def __call__(self, p: Progress) -> None:
        rate = f"{thousands(p.rows / p.elapsed_s)}/s" if p.elapsed_s > 0 else "…"
        rows = thousands(p.rows)
        share = p.bytes_read / p.bytes_total if p.bytes_total else None
        text = f"{self._verb}: {rows} {self._things} ({rate})" if share is None else \
            f"{self._verb}: {share:4.0%} · {rows} {self._things} ({rate})"
        if self._tty:
            self._out.write("\r" + text)
            self._out.flush()
        elif share is None or share * 10 >= self._next_tenth:
            self._out.write(text + "\n")
            self._out.flush()
            if share is not None:
                self._next_tenth = int(share * 10) + 1

    def end(self) -> None:
        if self._tty:
            self._out.write("\n")
            self._out.flush()


# -- importar -----------------------------------------------------------------------------------

IMPORT_EPILOG = f"""\
formato (docs/dados.md): a primeira linha é o cabeçalho
  {','.join(HEADER)}
e cada linha seguinte uma leitura; as três últimas colunas são opcionais. ts em ISO 8601 com
fuso (2026-11-30T08:00:00-03:00) ou milissegundos desde 1970. É o formato de `servidor exportar`.

Uma leitura é identificada pelo medidor e pelo seq: importar o mesmo arquivo de novo não
acrescenta nada. Na primeira linha inválida a importação para e diz qual; o que veio antes
fica gravado, e importar o arquivo corrigido acrescenta só o resto.

exemplo:
  servidor importar historico.csv --db /dados/db.json     (com o servidor parado)
"""


def import_command(argv: list[str]) -> int:
    prog = "servidor importar"
    parser = argparse_pt.parser(
        prog=prog, epilog=IMPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Importa leituras de um arquivo CSV (uma linha por leitura) para medidores já cadastrados. "
                    "Rode com o servidor parado.")
    parser.add_argument("arquivo", type=Path, help="o arquivo CSV (- lê da entrada padrão)")
    _db_option(parser)
    parser.add_argument("--silencioso", action="store_true", help="não mostra o andamento")
    args = parser.parse_args(argv)
    db = args.db.resolve()
    try:
        source = sys.stdin if str(args.arquivo) == "-" else args.arquivo.open(encoding="utf-8", newline="")
    except OSError as exc:
        return _fail(prog, EXIT_USAGE, f"não foi possível ler {args.arquivo}: {exc.strerror or exc}")
    size = 0 if source is sys.stdin else os.fstat(source.fileno()).st_size
    progress = None if args.silencioso else ProgressLine("importando")
    try:
        with stopped_store(db) as (docs, store):
            try:
                report = import_csv(source, meters_by_id(docs), store, size=size, on_progress=progress)
            finally:
                if progress is not None:
                    progress.end()
    except StoppedStore as exc:
        return _fail(prog, exc.code, str(exc))
    except CsvError as exc:
        return _fail(prog, EXIT_INVALID, f"{args.arquivo}: {exc}")
    except UnicodeDecodeError:
        return _fail(prog, EXIT_INVALID, f"{args.arquivo}: o arquivo não está em UTF-8")
    except StoreError as exc:
        return _fail(prog, EXIT_STORE, f"a importação parou: {exc}")
    finally:
        if source is not sys.stdin:
            source.close()
    rate = report.linhas / report.segundos if report.segundos > 0 else 0.0
    print(f"{report.linhas} linhas em {report.segundos:.1f} s ({thousands(rate)} leituras/s): {report.novas} leituras "
          f"novas, {report.duplicadas} já estavam gravadas")
    for meter_id, (new, duplicates) in sorted(report.por_medidor.items()):
        print(f"  {meter_id}: {new} novas, {duplicates} já gravadas")
    return EXIT_OK


# -- exportar -----------------------------------------------------------------------------------

EXPORT_EPILOG = f"""\
o arquivo começa pelo cabeçalho
  {','.join(HEADER)}
com as leituras de cada medidor em ordem de tempo, ts no fuso do medidor (docs/dados.md).

exemplos:
  servidor exportar leituras.csv
  servidor exportar casa.csv --medidor casa --de 2026-01-01 --ate 2026-06-30
  servidor exportar - --medidor casa | gzip > casa.csv.gz
com o servidor rodando, ele faz uma cópia de um instante (como `servidor backup`) numa pasta
temporária ao lado do banco, de onde as leituras são exportadas; a pasta é apagada no fim.
"""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"data inválida: {text!r} (use AAAA-MM-DD)") from None


def export_command(argv: list[str]) -> int:
    prog = "servidor exportar"
    parser = argparse_pt.parser(
        prog=prog, epilog=EXPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Exporta as leituras para um arquivo CSV (uma linha por leitura), com o servidor parado ou "
                    "rodando (então de uma cópia que ele faz num instante só).")
    parser.add_argument("arquivo", type=Path, help="o arquivo CSV a escrever (- escreve na saída padrão)")
    _db_option(parser)
    parser.add_argument("--medidor", action="append", metavar="ID",
                        help="só este medidor (repita para vários; padrão: todos)")
    parser.add_argument("--de", type=_day, metavar="AAAA-MM-DD", help="desde este dia (no fuso de cada medidor)")
    parser.add_argument("--ate", type=_day, metavar="AAAA-MM-DD", help="até este dia, inclusive")
    parser.add_argument("--silencioso", action="store_true", help="não mostra o andamento")
    args = parser.parse_args(argv)
    db = args.db.resolve()

    def bounds(meter) -> tuple[int | None, int | None]:
        tz = meter.tz
        return (None if args.de is None else local_midnight_ms(args.de, tz),
                None if args.ate is None else local_midnight_ms(args.ate + timedelta(days=1), tz))

    try:
        with stopped_store(db) as (docs, store):
            return _export(prog, args, docs, store, bounds)
    except ServerRunning:
        pass
    except StoppedStore as exc:
        return _fail(prog, exc.code, str(exc))
    # The server runs: it writes a snapshot (a backup) beside its files, exported and removed here.
    with tempfile.TemporaryDirectory(dir=db.parent, prefix=".exportar-") as folder:
        snapshot = Path(folder) / "copia"
        try:
            snapshot_by_server(db, snapshot)
            with stopped_store(snapshot / "db.json") as (docs, store):
                return _export(prog, args, docs, store, bounds)
        except NotDone as exc:
            return _fail(prog, EXIT_STORE, str(exc))
        except StoppedStore as exc:
            return _fail(prog, exc.code, str(exc))


def _export(prog: str, args: argparse.Namespace, docs: DocumentStore, store: ReadingStore, bounds) -> int:
    to_stdout = str(args.arquivo) == "-"
    meters = meters_by_id(docs)
    unknown = sorted(set(args.medidor or ()) - meters.keys())
    if unknown:
        return _fail(prog, EXIT_USAGE, f"medidor desconhecido: {', '.join(unknown)}")
    chosen = [meters[m] for m in sorted(args.medidor or meters)]
    progress = None if args.silencioso or to_stdout else ProgressLine("exportando")
    started = time.monotonic()
    if to_stdout:
        export_csv(sys.stdout, chosen, store, bounds=bounds)
        return EXIT_OK
    temp = args.arquivo.with_name(f".{args.arquivo.name}.{os.getpid()}.parcial")
    try:
        with temp.open("w", encoding="utf-8", newline="") as out:
            count = export_csv(out, chosen, store, bounds=bounds, on_progress=progress)
        os.replace(temp, args.arquivo)  # a reader never sees half a file
    except OSError as exc:
        return _fail(prog, EXIT_USAGE, f"não foi possível escrever {args.arquivo}: {exc.strerror or exc}")
    finally:
        temp.unlink(missing_ok=True)
        if progress is not None:
            progress.end()
    print(f"{count} leituras de {len(chosen)} medidor(es) em {args.arquivo.resolve()} "
          f"({time.monotonic() - started:.1f} s)")
    return EXIT_OK
