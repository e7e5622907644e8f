"""`servidor chave nova --admin|--registro`: a new admin or registration key, the old one revoked.

The way back in for whoever lost the key shown once on the first run. Whoever may run it is
whoever may write the server's files (the same person who could edit db.json), so it needs no key.
With the server stopped the command takes the readings' lock (a server starting meanwhile is
refused) and stores the key itself; with the server running it leaves the key's hash in the
server's inbox (servidor/store/inbox.py) and waits for the answer. Either way the key is printed
only once it is stored, and only to this terminal.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from servidor.app import readings_dir
from servidor.domain.auth import Role
from servidor.domain.keys import LABELS, KeyRing, generated_key_doc
from servidor.store import StoreError
from servidor.store.documents import DocumentStore
from servidor.store.inbox import Inbox, inbox_dir
from servidor.store.readings.errors import StoreLocked
from servidor.store.readings.files import DirectoryLock
from shared import argparse_pt

EXIT_OK = 0
EXIT_NOT_DONE = 1
EXIT_USAGE = 2
EXIT_STORE_UNREADABLE = 4
# A running server looks at its inbox every half second; this leaves room for a busy disk.
ANSWER_WAIT_S = 15.0

EPILOG = """\
exemplos:
  servidor chave nova --admin --db /dados/db.json
  docker compose -f docker-compose.demo.yml exec servidor servidor chave nova --admin
                                   (num contêiner o banco é MONITOR_DB, /dados/db.json)

A chave nova substitui a anterior na hora, com o servidor parado ou rodando, e é mostrada só
agora. Com MONITOR_CHAVE_ADMIN (ou MONITOR_CHAVE_REGISTRO) definido, o servidor volta a usar a
chave da variável quando reinicia: troque então a variável.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse_pt.parser(
        prog="servidor chave nova", add_help=False, epilog=EPILOG,
        description="Faz uma chave de administração ou de registro de medidores nova; a anterior deixa de valer.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-h", "--help", action="help", help="mostra esta ajuda e sai")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--admin", dest="papel", action="store_const", const=Role.ADMIN,
                       help="a chave de administração")
    which.add_argument("--registro", dest="papel", action="store_const", const=Role.REGISTRATION,
                       help="a chave de registro de medidores")
    parser.add_argument("--db", type=Path, default=Path(os.environ.get("MONITOR_DB", "db.json")),
                        help="o banco do servidor (padrão: ./db.json ou MONITOR_DB)")
    parser.add_argument("--banco", default=os.environ.get("MONITOR_BANCO") or None, metavar="URL",
                        help="o PostgreSQL dos servidores (postgresql://…, ou MONITOR_BANCO), em vez de --db: "
                             "todos os servidores nele passam a aceitar só a chave nova em segundos")
    return parser


def main(argv: list[str]) -> int:
    if argv[:1] != ["nova"]:
        print("uso: servidor chave nova --admin|--registro [--db ARQUIVO | --banco URL]  (servidor chave nova --help)",
              file=sys.stderr)
        return EXIT_USAGE
    args = build_parser().parse_args(argv[1:])
    if args.banco:
        return _in_postgres(args.banco, args.papel)
    db_path = args.db.resolve()
    if not db_path.exists():
        print(f"servidor: o banco {db_path} não existe (use --db com o caminho do banco do servidor)", file=sys.stderr)
        return EXIT_USAGE
    readings = readings_dir(db_path)
    try:
        readings.mkdir(exist_ok=True)
        lock = DirectoryLock(readings, durable=True)
    except StoreLocked:
        return _through_running_server(db_path, args.papel)
    except (StoreError, OSError) as exc:
        print(f"servidor: não foi possível abrir {readings}: {exc}", file=sys.stderr)
        return EXIT_STORE_UNREADABLE
    try:
        return _in_stopped_store(db_path, args.papel)
    finally:
        lock.release()


def _store_and_show(docs: DocumentStore, role: Role, when: str) -> int:
    """Make and store a new global key in `docs` (an open store), then show it once."""
    try:
        key = KeyRing(docs).new_global(role)
    except StoreError as exc:
        print(f"servidor: a chave nova não foi gravada ({exc}); a anterior continua valendo", file=sys.stderr)
        return EXIT_STORE_UNREADABLE
    _show(role, key, when)
    return EXIT_OK


def _in_stopped_store(db_path: Path, role: Role) -> int:
    try:
        docs = DocumentStore.open(db_path)
    except (StoreError, OSError) as exc:
        print(f"servidor: não foi possível abrir o banco {db_path}: {exc}", file=sys.stderr)
        return EXIT_STORE_UNREADABLE
    try:
        return _store_and_show(docs, role, "servidor parado: vale a partir do próximo início")
    finally:
        docs.close()


def _in_postgres(url: str, role: Role) -> int:
    """Servers on a shared database look keys up there again within seconds (SHARED_RECHECK_S):
    storing the key is enough, stopped or running."""
    from servidor.store.postgres import open_postgres

    try:
        docs, readings = open_postgres(url, listen=False)
    except StoreError as exc:
        print(f"servidor: {exc}", file=sys.stderr)
        return EXIT_STORE_UNREADABLE
    try:
        return _store_and_show(docs, role, "os servidores neste banco passam a usá-la em segundos")
    finally:
        readings.close()
        docs.close()


def _through_running_server(db_path: Path, role: Role) -> int:
    key, doc = generated_key_doc(role)
    inbox = Inbox(inbox_dir(db_path))
    try:
        request_id = inbox.submit({"papel": role.value, "id_chave": doc["id_chave"], "hash": doc["hash"]})
    except OSError as exc:
        print(f"servidor: não foi possível deixar o pedido em {inbox.directory}: {exc}", file=sys.stderr)
        return EXIT_NOT_DONE
    answer = inbox.wait(request_id, ANSWER_WAIT_S)
    if answer is None and not inbox.withdraw(request_id):
        answer = inbox.wait(request_id, ANSWER_WAIT_S)  # claimed just now: its answer is coming
    if answer is None:
        print(f"servidor: o servidor que usa {db_path} não respondeu em {ANSWER_WAIT_S:.0f} s; nenhuma chave "
              "foi trocada. Ele está travado? Pare-o e rode o comando de novo.", file=sys.stderr)
        return EXIT_NOT_DONE
    if not answer.get("ok"):
        print(f"servidor: o servidor recusou a chave nova: {answer.get('erro')}", file=sys.stderr)
        return EXIT_NOT_DONE
    _show(role, key, "o servidor em execução já a usa")
    return EXIT_OK


def _show(role: Role, key: str, where: str) -> None:
    print(f"Chave de {LABELS[role][0]} nova (mostrada só agora; guarde-a): {key}")
    print(f"  {where}; a anterior deixou de valer.")
    variable = ENV_OF[role]
    if os.environ.get(variable):
        print(f"  atenção: {variable} está definida; quando o servidor reiniciar, a chave volta a ser a dela.")


ENV_OF = {Role.ADMIN: "MONITOR_CHAVE_ADMIN", Role.REGISTRATION: "MONITOR_CHAVE_REGISTRO"}
