"""`usuario`: the terminal app (or, with --menu, 004's numbered menu) for monitor-energia."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from shared import argparse_pt

from .api import ApiClient
from .config import ENV_CONFIG, ENV_KEY, ENV_SERVER, THEMES, ConfigError, Settings, resolve

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2

DESCRIPTION = """\
Acompanhe medidores do monitor-energia no terminal: consumo, faturas, alertas, leituras ao vivo
e controle remoto. Navegue só com o teclado; Ctrl+P abre a paleta com todos os comandos."""

EPILOG = f"""\
O endereço e a chave vêm, nesta ordem, de --servidor/--chave, das variáveis {ENV_SERVER} e
{ENV_KEY}, ou do arquivo de configuração (padrão ~/.config/monitor-energia/usuario.toml, ou
${ENV_CONFIG}), que pode ter:
  servidor = "http://127.0.0.1:5000"
  chave = "demo-admin"
  tema = "claro"
  exportar_para = "~/Documentos/energia"
Se faltar algo ou estiver errado, o aplicativo abre a tela de conexão para corrigir.

--menu reproduz o menu numerado do sistema 004 (1 consumo atual, 2 consumo total, 3 fatura
atual, 4 valor da fatura, 0 sair), lendo da entrada padrão: serve para terminais simples e scripts.
Um id de medidor nativo é lido pela API (precisa de chave); um id antigo do 004, pela rota GET /?id=.
Saída: 0 normal, 1 medidor não encontrado no --menu, 2 uso incorreto."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse_pt.parser(prog="usuario", description=DESCRIPTION, epilog=EPILOG, add_help=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-h", "--help", action="help", help="mostra esta ajuda e sai")
    parser.add_argument("--servidor", metavar="URL", help="endereço do servidor, ex.: http://127.0.0.1:5000")
    parser.add_argument("--chave", metavar="CHAVE", help="chave de administração ou de leitura de um medidor (ml_…)")
    parser.add_argument("--config", metavar="ARQUIVO", type=Path, help="arquivo de configuração TOML")
    parser.add_argument("--tema", choices=sorted(THEMES), help="tema de cores (padrão: escuro)")
    parser.add_argument("--exportar-para", metavar="PASTA", type=Path, dest="exportar_para",
                        help="pasta onde as faturas são exportadas em CSV (padrão: ~/monitor-energia/exportacoes, "
                             "ou MONITOR_EXPORTAR_PARA)")
    parser.add_argument("--log", metavar="ARQUIVO", type=Path,
                        help="grava o registro de depuração neste arquivo (a tela não mostra logs)")
    parser.add_argument("--menu", action="store_true", help="menu numerado do 004, pela entrada padrão")
    return parser


def _route_logs(path: Path | None) -> None:
    """Logs never reach the terminal: a line on stderr would tear through the TUI's screen."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if path is None:
        root.addHandler(logging.NullHandler())
        # Python's last-resort handler prints WARNINGs to stderr when nothing handles them.
        logging.lastResort = None
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = resolve(servidor=args.servidor, chave=args.chave, tema=args.tema,
                           config_path=args.config, exportar_para=args.exportar_para)
    except (ConfigError, ValueError) as exc:
        print(f"usuario: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.menu:
        return _menu(settings)
    _route_logs(args.log)
    from .app import UsuarioApp

    UsuarioApp(settings).run()
    return EXIT_OK


def _menu(settings: Settings) -> int:
    from .menu import run_menu

    if not settings.servidor:
        print(f"usuario: informe o servidor (--servidor URL ou {ENV_SERVER})", file=sys.stderr)
        return EXIT_USAGE
    try:
        api = ApiClient(settings.servidor, settings.chave)
    except ValueError as exc:
        print(f"usuario: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return run_menu(api, sys.stdin, sys.stdout)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        api.close()


if __name__ == "__main__":
    sys.exit(main())
