"""`servidor backup DESTINO` and `servidor restaurar ORIGEM`.

`backup` works with the server stopped or running. Stopped: the command opens the stores itself
(taking the readings' lock) and writes the snapshot. Running: the snapshot must be taken by the
server, under its locks, or it would not be one instant; the command leaves a request in the
server's inbox (servidor/store/inbox.py, as `servidor chave nova` does) and waits for the answer.
`restaurar` needs the server stopped: it replaces the files the server has open.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from servidor.app import blinks_dir, events_dir, readings_dir
from servidor.data_cli import EXIT_OK, EXIT_STORE, NotDone, ServerRunning, StoppedStore, snapshot_by_server, stopped_store
from servidor.domain.event_line import FEATURE_WIDTH
from servidor.store import StoreError, backup
from servidor.store.blinks import BlinkStore
from servidor.store.events import EventStore
from servidor.store.readings.errors import StoreLocked
from shared import argparse_pt

EXIT_FAILED = 1

BACKUP_EPILOG = """\
a pasta de backup recebe db.json, db.leituras/ (todas as leituras) e manifesto.json; ela é
escrita com outro nome e renomeada no fim, então uma pasta com o nome pedido está sempre completa.

exemplos:
  servidor backup /backups/monitor-2026-11-30 --db /dados/db.json
  docker compose exec servidor servidor backup /dados/backups/hoje   (um caminho do contêiner)

com o servidor rodando é ele quem escreve a pasta (com o usuário dele), num instante só, sem parar
de receber leituras; as faturas calculadas do backup são as que o servidor dava naquele instante.
"""

RESTORE_EPILOG = """\
o banco e as leituras que estavam no lugar não são apagados: ficam ao lado, em
db.json.antes-DATA e db.leituras.antes-DATA/.

exemplo:
  servidor restaurar /backups/monitor-2026-11-30 --db /dados/db.json   (com o servidor parado)
"""


def _parser(prog: str, description: str, epilog: str, what: str, help_text: str) -> argparse.ArgumentParser:
    parser = argparse_pt.parser(prog=prog, description=description, epilog=epilog,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(what, type=Path, help=help_text)
    parser.add_argument("--db", type=Path, metavar="ARQUIVO", default=Path(os.environ.get("MONITOR_DB", "db.json")),
                        help="o banco do servidor (padrão: ./db.json ou MONITOR_DB); as leituras ficam ao lado")
    return parser


def _fail(prog: str, code: int, message: str) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return code


def backup_command(argv: list[str]) -> int:
    prog = "servidor backup"
    args = _parser(prog, "Copia o banco e todas as leituras para uma pasta nova, num instante só, com o servidor "
                         "parado ou rodando.", BACKUP_EPILOG, "destino", "a pasta do backup (não pode existir, ou "
                         "deve estar vazia)").parse_args(argv)
    db, destination = args.db.resolve(), args.destino.resolve()
    try:
        with stopped_store(db) as (docs, store):
            blinks, events = BlinkStore.open(blinks_dir(db)), EventStore(events_dir(db), FEATURE_WIDTH)
            try:
                snapshot = backup.take(docs, store, blinks, events)
            finally:
                blinks.close()
                events.close()
            backup.write(snapshot, destination)
    except ServerRunning:
        return _through_running_server(prog, db, destination)
    except StoppedStore as exc:
        return _fail(prog, exc.code, str(exc))
    except StoreError as exc:
        return _fail(prog, EXIT_FAILED, str(exc))
    print(f"backup em {destination}: {snapshot.readings} leituras de {len(snapshot.streams)} medidor(es), "
          "servidor parado")
    return EXIT_OK


def _through_running_server(prog: str, db: Path, destination: Path) -> int:
    try:
        readings = snapshot_by_server(db, destination)
    except NotDone as exc:
        return _fail(prog, EXIT_FAILED, str(exc))
    print(f"backup em {destination}: {readings} leituras, feito pelo servidor em execução")
    return EXIT_OK


def restore_command(argv: list[str]) -> int:
    prog = "servidor restaurar"
    args = _parser(prog, "Põe um backup de `servidor backup` no lugar do banco e das leituras. Rode com o servidor "
                         "parado.", RESTORE_EPILOG, "origem", "a pasta do backup").parse_args(argv)
    db = args.db.resolve()
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        restored = backup.restore(args.origem.resolve(), db, readings_dir(db),
                                  blinks=blinks_dir(db), events=events_dir(db))
    except StoreLocked:
        return _fail(prog, EXIT_STORE, f"o servidor que usa {db} está rodando: pare-o antes de restaurar")
    except backup.BackupError as exc:
        return _fail(prog, EXIT_FAILED, str(exc))
    except (StoreError, OSError) as exc:
        return _fail(prog, EXIT_STORE, f"a restauração falhou: {exc}")
    print(f"restaurado o backup de {restored.created_at}: {restored.readings} leituras em {readings_dir(db)}, "
          f"banco em {db}")
    for path in restored.set_aside:
        print(f"  o que estava no lugar foi guardado em {path}")
    return EXIT_OK
