"""`servidor`: the command line. Parses options, opens the stores, serves until SIGINT/SIGTERM."""
from __future__ import annotations

import argparse
import errno
import logging
import os
import resource
import signal
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared import argparse_pt
from shared.contract import API_PREFIX
from servidor.api.dispatch import CORS
from servidor.api.envelope import error_response
from servidor.api.events import parse_service
from servidor.app import DEFAULT_WORKERS, VERSION, App, Settings, readings_dir
from servidor.backup_cli import backup_command, restore_command
from servidor.data_cli import export_command, import_command
from servidor.demo_guard import DEMO_ENV, demo_keys_in_use
from servidor.domain.registry import has_documents, retire_streams
from servidor.keys_cli import main as keys_command
from servidor.logs import configure as configure_logging
from servidor.migrate_cli import main as migrate_command
from servidor.mqtt import add_options as add_mqtt_options, output_from_args as mqtt_output
from servidor.net import DEFAULT_SERVER_LIMITS, HttpServer
from servidor.store import StoreError, retention
from servidor.store.documents import DocumentStore, StoreTooNew
from servidor.store.migration import unfinished
from servidor.store.readings import ReadingStore
from servidor.store.repair import command as repair_command
from shared.mqtt_broker import BrokerError

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PORT_IN_USE = 3
EXIT_STORE_UNREADABLE = 4
EXIT_STORE_TOO_NEW = 5

EPILOG = """\
exemplos:
  servidor                               escuta em http://127.0.0.1:5000, banco ./db.json
  servidor --porta 8080 --host 0.0.0.0   aceita conexões de outras máquinas
  servidor --db /dados/db.json           as leituras ficam ao lado, em /dados/db.leituras/
  servidor --banco postgresql://monitor@db/monitor
                                         leituras e documentos num PostgreSQL que vários
                                         servidores compartilham (docs/postgresql.md)

chaves: na primeira execução o servidor cria e mostra uma vez, já escutando, a chave de
administração e a de registro de medidores (ou use MONITOR_CHAVE_ADMIN e MONITOR_CHAVE_REGISTRO).
Envie-as como Authorization: Bearer <chave>.  Teste: curl http://127.0.0.1:5000/api/v1/saude
Perdeu uma? `servidor chave nova --admin` (ou --registro) faz outra, com o servidor parado ou rodando.

variáveis de ambiente: MONITOR_PORTA, MONITOR_HOST, MONITOR_DB, MONITOR_BANCO, MONITOR_FUSO, MONITOR_LOG_LEVEL,
MONITOR_CONEXOES_POR_CLIENTE, MONITOR_REQUISICOES_POR_SEGUNDO, MONITOR_RETENCAO_MESES valem como as
opções de mesmo nome; MONITOR_SEM_LEGADO=1 como --sem-legado. As chaves da demonstração
(demo-admin, demo-registro, as de db.json.example) só são aceitas com MONITOR_DEMO=1.
MONITOR_MQTT, MONITOR_MQTT_PREFIXO, MONITOR_MQTT_BASE, MONITOR_MQTT_USUARIO e MONITOR_MQTT_SENHA_ARQUIVO
valem como as opções MQTT; a senha do broker vem só de MONITOR_MQTT_SENHA ou de --senha-mqtt-arquivo.

códigos de saída: 0 parado normalmente; 2 opção inválida; 3 porta em uso;
4 banco ilegível, leituras danificadas, ou banco vazio/ausente ao lado de leituras gravadas;
5 banco gravado por uma versão mais nova.

servidor reparar [--db ARQUIVO]   com o servidor parado, repara leituras danificadas (mantém todo
                                  registro íntegro e guarda os originais em danificados/)
servidor chave nova --admin|--registro [--db ARQUIVO]
                                  faz uma chave de administração ou de registro nova (a anterior
                                  deixa de valer), com o servidor parado ou rodando
servidor exportar ARQUIVO [--db ARQUIVO] [--medidor ID] [--de DIA] [--ate DIA]
                                  leituras para CSV, parado ou rodando (docs/dados.md)
servidor importar ARQUIVO [--db ARQUIVO]
                                  com o servidor parado, leituras de um CSV; importar de novo
                                  não duplica nada
servidor backup PASTA [--db ARQUIVO]
                                  copia banco e leituras num instante só, parado ou rodando
servidor restaurar PASTA [--db ARQUIVO]
                                  com o servidor parado, põe um backup no lugar (o que havia
                                  fica guardado ao lado)
servidor migrar --de ORIGEM --para DESTINO
                                  copia tudo do db.json para um PostgreSQL (ou de volta para
                                  um db.json novo) e confere; interrompido, continua de onde parou
"""


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse_pt.parser(
        prog="servidor",
        description="Servidor do monitor-energia: recebe leituras dos medidores e responde a API JSON em /api/v1.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--porta", type=int, default=int(env("MONITOR_PORTA", "5000")),
                        help="porta TCP (padrão: 5000, como o sistema 004; 0 escolhe uma livre)")
    parser.add_argument("--host", default=env("MONITOR_HOST", "127.0.0.1"),
                        help="endereço de escuta (padrão: 127.0.0.1; use 0.0.0.0 para a rede)")
    parser.add_argument("--db", type=Path, default=Path(env("MONITOR_DB", "db.json")),
                        help="banco de documentos TinyDB (padrão: ./db.json; criado se não existir)")
    parser.add_argument("--banco", default=env("MONITOR_BANCO") or None, metavar="URL",
                        help="guarda leituras e documentos num PostgreSQL (postgresql://usuário@máquina/banco) em vez "
                             "de --db; vários servidores podem usar o mesmo banco (ou MONITOR_BANCO)")
    parser.add_argument("--fuso", default=env("MONITOR_FUSO", "America/Sao_Paulo"),
                        help="fuso IANA padrão dos medidores novos (padrão: America/Sao_Paulo)")
    parser.add_argument("--log-level", default=env("MONITOR_LOG_LEVEL", "INFO"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper,
                        help="detalhe do log (padrão: INFO)")
    parser.add_argument("--log-json", action="store_true", default=env("MONITOR_LOG_JSON") == "1",
                        help="log em JSON, um objeto por linha (para coletores de log)")
    parser.add_argument("--trabalhadores", type=int, default=DEFAULT_WORKERS,
                        help=f"threads que atendem requisições prontas (padrão: {DEFAULT_WORKERS})")
    parser.add_argument("--conexoes-por-cliente", type=int, metavar="N",
                        default=int(env("MONITOR_CONEXOES_POR_CLIENTE", DEFAULT_SERVER_LIMITS.max_connections_per_client)),
                        help="conexões abertas por endereço de cliente; além disso, 429 (padrão: "
                             f"{DEFAULT_SERVER_LIMITS.max_connections_per_client}; 0 desliga, p.ex. atrás de um proxy)")
    parser.add_argument("--requisicoes-por-segundo", type=float, metavar="N",
                        default=float(env("MONITOR_REQUISICOES_POR_SEGUNDO", DEFAULT_SERVER_LIMITS.requests_per_second_per_client)),
                        help="requisições por segundo por endereço, com rajadas do dobro; além disso, 429 (padrão: "
                             f"{DEFAULT_SERVER_LIMITS.requests_per_second_per_client:g}; 0 desliga)")
    parser.add_argument("--sem-legado", action="store_true", default=env("MONITOR_SEM_LEGADO") == "1",
                        help="desliga as rotas antigas: do sistema 004 (POST /<id>, GET /?id=), do blipserver "
                             "(/blip, /last, /since, ...) e do energy-sensors (/log/store, ...); as do 004 e do energy-sensors são abertas, sem chave "
                             "(ou MONITOR_SEM_LEGADO=1)")
    parser.add_argument("--somente-parse", action="store_true",
                        help="só o serviço sem estado POST /log/parse do energy-sensors (sem banco), para "
                             "distribuir a interpretação de eventos, ex.: --somente-parse --porta 5001")
    parser.add_argument("--grupos-a-cada", type=int, metavar="N", default=int(env("MONITOR_GRUPOS_A_CADA", "1000")),
                        help="recalcula os grupos de /clusters/summary a cada N eventos guardados (padrão: 1000)")
    parser.add_argument("--retencao-meses", type=int, metavar="N", default=int(env("MONITOR_RETENCAO_MESES", "0")),
                        help="ao iniciar, leituras com mais de N meses viram uma por 15 minutos, sem mudar nenhum "
                             "total, dia, mês ou fatura (padrão: 0, guarda tudo; ou MONITOR_RETENCAO_MESES)")
    parser.add_argument("--descartar-leituras-orfas", action="store_true",
                        help="com o banco vazio ou ausente, apaga as leituras gravadas ao lado dele e começa do "
                             "zero (sem isto o servidor recusa iniciar, para não perder o banco por engano)")
    add_mqtt_options(parser)
    return parser


# Each connection is a file descriptor; 1,000 idle keep-alive clients must fit beside the store's
# files, and Linux's default soft limit is often 1,024. Raise the soft limit towards the hard one.
WANTED_OPEN_FILES = 65_536


def raise_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = WANTED_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, WANTED_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def orphaned_readings(docs: DocumentStore, store: ReadingStore) -> int:
    """Readings stored beside a document store that has no meters and no keys (missing, emptied,
    or replaced by a fresh one): 0 when the documents are there or there are no readings."""
    if has_documents(docs):
        return 0
    return int(store.stats()["leituras"])


def fail(code: int, message: str) -> int:
    print(f"servidor: {message}", file=sys.stderr)
    return code


# `servidor NOME …`: the commands beside serving, each with its own options and --help.
SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {
    "reparar": lambda argv: repair_command(argv, readings_dir),
    "chave": keys_command,
    "exportar": export_command,
    "importar": import_command,
    "backup": backup_command,
    "restaurar": restore_command,
    "migrar": migrate_command,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = SUBCOMMANDS.get(argv[0]) if argv else None
    if command is not None:
        return command(argv[1:])
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, args.log_json)
    try:
        ZoneInfo(args.fuso)
    except (ZoneInfoNotFoundError, ValueError):
        return fail(2, f"fuso desconhecido: {args.fuso} (use um nome IANA como America/Sao_Paulo)")
    if not 0 <= args.porta <= 65535:
        return fail(2, f"porta inválida: {args.porta}")
    if args.conexoes_por_cliente < 0 or args.requisicoes_por_segundo < 0:
        return fail(2, "limites por cliente não podem ser negativos (0 desliga)")
    if args.retencao_meses < 0:
        return fail(2, "--retencao-meses não pode ser negativo (0 guarda tudo)")
    try:
        mqtt = mqtt_output(args)
    except BrokerError as exc:
        return fail(EXIT_USAGE, str(exc))

    if args.grupos_a_cada < 1:
        return fail(2, "--grupos-a-cada deve ser pelo menos 1")
    raise_open_file_limit()
    if args.somente_parse:
        return parse_only(args)
    if args.banco:
        if args.retencao_meses:
            return fail(EXIT_USAGE, "--retencao-meses vale só para o armazenamento embutido (--db); no PostgreSQL, "
                                    "apague ou desanexe partições antigas (docs/postgresql.md)")
        opened = open_postgres_stores(args.banco)
        if isinstance(opened, int):
            return opened
        docs, store, where = opened
        refused = refuse_unfinished_copy(docs, where, store)
        if refused is not None:
            return refused
        return serve(args, docs, store, where, f"--banco {where}", mqtt=mqtt)
    db_path = args.db.resolve()
    try:
        docs = DocumentStore.open(db_path)
    except StoreTooNew as exc:
        return fail(EXIT_STORE_TOO_NEW, str(exc))
    except (StoreError, OSError) as exc:
        return fail(EXIT_STORE_UNREADABLE, f"não foi possível abrir o banco {db_path}: {exc}")
    refused = refuse_unfinished_copy(docs, str(db_path))
    if refused is not None:
        return refused
    try:
        if args.retencao_meses:
            kept = retention.apply(readings_dir(db_path), retention.cut_for(args.retencao_meses, date.today()))
            if kept.streams:
                logging.getLogger("servidor").info("retenção de %d meses: %d leituras antigas viraram %d",
                                                   args.retencao_meses, kept.before, kept.after)
        store = ReadingStore.open(readings_dir(db_path))
    except StoreError as exc:
        docs.close()
        code = EXIT_STORE_TOO_NEW if "mais nova" in str(exc) else EXIT_STORE_UNREADABLE
        return fail(code, f"não foi possível abrir as leituras em {readings_dir(db_path)}: {exc}")
    except OSError as exc:
        docs.close()
        return fail(EXIT_STORE_UNREADABLE, f"não foi possível abrir as leituras em {readings_dir(db_path)}: {exc}")

    orphans = orphaned_readings(docs, store)
    if orphans and not args.descartar_leituras_orfas:
        store.close()
        docs.close()
        return fail(EXIT_STORE_UNREADABLE, (
            f"o banco {db_path} está vazio ou ausente, mas {readings_dir(db_path)} guarda {orphans} leituras: "
            "o servidor não começa do zero por cima delas.\n"
            f"  restaure um backup: servidor restaurar PASTA_DO_BACKUP --db {db_path}, e inicie de novo;\n"
            f"  ou aceite a perda: servidor --db {db_path} --descartar-leituras-orfas"))
    if orphans:
        streams = store.meters()
        retire_streams(docs, streams)  # first: a crash after it leaves readings nobody reaches
        for stream in streams:
            store.delete_meter(stream)
        logging.getLogger("servidor").warning("banco vazio: %d leituras sem medidor apagadas", orphans)

    return serve(args, docs, store, str(db_path), f"--db {db_path}",
                 f"(banco: {db_path}, leituras: {readings_dir(db_path)})", mqtt=mqtt)


def refuse_unfinished_copy(docs, where: str, *others) -> int | None:
    """Exit code 4 (and the stores closed) when `servidor migrar` copies into these stores and has
    not finished: a server on half the readings would issue wrong invoices."""
    copying = unfinished(docs)
    if copying is None:
        return None
    for store in (*others, docs):
        store.close()
    return fail(EXIT_STORE_UNREADABLE, (
        f"{where} recebe uma cópia de {copying.source} (servidor migrar, desde {copying.started_at}) que ainda não "
        "terminou: rode de novo o mesmo `servidor migrar --de ... --para ...` até ele concluir e conferir a cópia"))


def open_postgres_stores(url: str) -> tuple[object, object, str] | int:
    """The documents and readings in PostgreSQL, and the URL to show; an exit code if it cannot."""
    from servidor.store.postgres import SchemaTooNew, open_postgres, redacted

    try:
        docs, store = open_postgres(url)
    except SchemaTooNew as exc:
        return fail(EXIT_STORE_TOO_NEW, str(exc))
    except StoreError as exc:
        return fail(EXIT_STORE_UNREADABLE, str(exc))
    return docs, store, redacted(url)


def serve(args: argparse.Namespace, docs, store, where: str, option: str, shown: str | None = None,
          mqtt=None) -> int:
    """Serve the API over opened stores until SIGINT/SIGTERM (and publish to Home Assistant
    through `mqtt`, when given); closes them."""
    settings = Settings.from_env(default_zone=args.fuso, legacy=not args.sem_legado, clusters_every=args.grupos_a_cada)
    public = demo_keys_in_use(settings.admin_key, settings.registration_key, docs)
    if public and os.environ.get(DEMO_ENV) != "1":
        store.close()
        docs.close()
        return fail(EXIT_USAGE, (
            f"este servidor usaria chaves da demonstração, publicadas no README: {'; '.join(public)}.\n"
            "  Escolha chaves suas (MONITOR_CHAVE_ADMIN e MONITOR_CHAVE_REGISTRO, ou nenhuma para o servidor criar),\n"
            f"  ou, se é mesmo uma demonstração, defina {DEMO_ENV}=1."))
    try:
        app = App(docs, store, settings, announce=None)
    except StoreError as exc:  # blink or event files that no longer read back (db.pulsos/, db.eventos/)
        store.close()
        docs.close()
        return fail(EXIT_STORE_UNREADABLE, f"não foi possível abrir os dados ao lado de {where}: {exc}")
    server = app.listen(args.host, args.porta, workers=args.trabalhadores, server_limits=DEFAULT_SERVER_LIMITS.per_client(
        args.conexoes_por_cliente, args.requisicoes_por_segundo))
    try:
        server.start()
    except OSError as exc:
        app.close()
        if exc.errno == errno.EADDRINUSE:
            return fail(EXIT_PORT_IN_USE, f"a porta {args.porta} já está em uso em {args.host}: "
                        "pare o outro processo ou use --porta")
        return fail(EXIT_PORT_IN_USE, f"não foi possível escutar em {args.host}:{args.porta}: {exc}")
    # First run: the keys are made only now that the server listens, and shown only once stored,
    # so a server that cannot start never shows a key that the next start would not know.
    try:
        first_keys = app.make_missing_keys()
    except StoreError as exc:
        server.shutdown()
        app.close()
        return fail(EXIT_STORE_UNREADABLE, f"não foi possível gravar as chaves novas em {where}: {exc}")
    for line in first_keys:
        print(line, flush=True)
    if first_keys:
        print(f"  (perdeu uma? `servidor chave nova --admin {option}` faz outra)", flush=True)
    app.start()
    bridge = None
    if mqtt is not None:
        from servidor.mqtt.bridge import HomeAssistantBridge

        bridge = HomeAssistantBridge(app.services, mqtt.broker, mqtt.topics, VERSION)
        bridge.start()

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    host, port = server.address
    print(f"servidor ouvindo em http://{host}:{port}{API_PREFIX}  {shown or f'(banco: {where})'}", flush=True)
    stop.wait()
    logging.getLogger("servidor").info("parando: termina o que está em andamento e grava o banco")
    if bridge is not None:
        bridge.stop()
    server.shutdown()
    app.close()
    print("servidor parado", flush=True)
    return EXIT_OK


def parse_only(args: argparse.Namespace) -> int:
    """energy-sensors' stateless parse service: POST /log/parse only, no database."""
    limits = DEFAULT_SERVER_LIMITS.per_client(args.conexoes_por_cliente, args.requisicoes_por_segundo)
    server = HttpServer(parse_service, args.host, args.porta, workers=args.trabalhadores, default_headers=CORS,
                        error_response=error_response, server_limits=limits)
    try:
        server.start()
    except OSError as exc:
        code = "já está em uso" if exc.errno == errno.EADDRINUSE else f"não pôde ser usada ({exc})"
        return fail(EXIT_PORT_IN_USE, f"a porta {args.porta} {code} em {args.host}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    host, port = server.address
    print(f"serviço de interpretação ouvindo em http://{host}:{port}/log/parse", flush=True)
    stop.wait()
    server.shutdown()
    print("servidor parado", flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
