"""The control port on the command line: the agent's options (`--porta-controle` …), starting the
port beside the agents, and the client `medidor controle HOST:PORTA VERBO [id]`."""
from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
from dataclasses import replace
from typing import Any, Callable, Sequence

from shared import argparse_pt
from shared.node_client import NodeUnreachable, ask, parse_address
from shared.node_protocol import VERBS
from medidor.agent import Agent
from medidor.config import ConfigError
from medidor.exit_codes import EXIT_USAGE
from medidor.node_commands import Analyzer, NodeCommands
from medidor.node_server import ControlServer, is_loopback

COMMAND = "controle"
# Exit codes of `medidor controle`: the node answered an error; the node could not be reached.
EXIT_ANSWERED_ERROR = 1
EXIT_UNREACHABLE = 3


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("porta de controle (comandos do Tesla Analyzer: STATUS, PAUSE, RELOAD …)")
    port = os.environ.get("MONITOR_PORTA_CONTROLE") or None
    group.add_argument("--porta-controle", type=int, default=int(port) if port and port.isdigit() else None,
                       metavar="PORTA", help="escuta comandos de texto nesta porta TCP (0: uma livre, mostrada no "
                                             "log); sem a opção, nenhuma porta é aberta")
    group.add_argument("--host-controle", default=os.environ.get("MONITOR_HOST_CONTROLE") or "127.0.0.1",
                       help="endereço da porta de controle (padrão: 127.0.0.1; fora do loopback exige "
                            "--chave-controle)")
    group.add_argument("--chave-controle", default=os.environ.get("MONITOR_CHAVE_CONTROLE") or None,
                       help="chave que clientes de fora desta máquina enviam com AUTH (ou MONITOR_CHAVE_CONTROLE)")


def start(args: Any, agents: Sequence[Agent], stop: threading.Event) -> ControlServer | None:
    """The control port for these agents, serving, or None without --porta-controle. Each agent
    registers its address with the server (the terminal app's Controle tab uses it). Raises
    ConfigError for settings that cannot work and OSError when the port cannot be bound."""
    if args.porta_controle is None:
        return None
    if not 0 <= args.porta_controle < 65536:
        raise ConfigError("--porta-controle deve ser de 0 a 65535")
    if not is_loopback(args.host_controle) and not args.chave_controle:
        raise ConfigError(f"--host-controle {args.host_controle} fora do loopback precisa de --chave-controle: "
                          "sem ela qualquer um na rede pausaria o medidor")
    reload = None
    node = ""
    if args.config is not None:
        from medidor.tesla_config import agents_from_tesla, load

        config, _ = load(args.config, args.lector)
        node = "\t".join([config.node_id, config.node_name, config.location])

        def reload() -> list:
            return agents_from_tesla(args)[0]

    analyzers = [Analyzer(str(a.config.dispositivo.endereco) if args.config is not None else a.config.medidor, a)
                 for a in agents]
    commands = NodeCommands(analyzers, stop, reload=reload, node=node)
    server = ControlServer(args.host_controle, args.porta_controle, commands.answer, key=args.chave_controle).start()
    host, port = server.address
    public = socket.getfqdn() if host in ("0.0.0.0", "::") else host
    address = f"[{public}]:{port}" if ":" in public else f"{public}:{port}"
    for agent in agents:
        agent.config = replace(agent.config, controle=address)
    return server


def run_with_port(args: Any, agents: Sequence[Agent], auto_start: bool,
                  run: Callable[[threading.Event], int]) -> int:
    """`run(stop)` the agents with their control port open (if asked for); lector.ini's
    auto_start=no starts them paused. Exit code 2 when the port cannot be opened."""
    if not auto_start:
        for agent in agents:
            agent.controls.set_paused(True, "auto_start=no em lector.ini; START ou RESUME na porta de controle")
    stop = threading.Event()
    try:
        control = start(args, agents, stop)
    except (ConfigError, OSError, ValueError) as exc:
        print(f"medidor: porta de controle: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return run(stop)
    finally:
        if control is not None:
            control.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse_pt.parser(
        prog=f"medidor {COMMAND}",
        description="Envia um comando à porta de controle de um medidor (nó de aquisição) e mostra a resposta.",
        epilog="verbos: " + ", ".join(VERBS) + "\n\nexemplos:\n"
               f"  medidor {COMMAND} 127.0.0.1:7010 STATUS\n"
               f"  medidor {COMMAND} 127.0.0.1:7010 GETVARS 1\n"
               f"  medidor {COMMAND} 10.0.0.5:7010 RELOAD --chave SEGREDO\n\n"
               "códigos de saída: 0 resposta normal; 1 o nó respondeu com erro (SRV_ERR, SRV_CONF_ERR, "
               "NOT IMPLEMENTED, IS STOPPED); 2 uso errado; 3 o nó não respondeu",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("endereco", metavar="HOST:PORTA", help="a porta de controle do medidor")
    parser.add_argument("verbo", metavar="VERBO", help="STATUS, PAUSE, RESUME, GETVARS, RELOAD … (HELP lista todos)")
    parser.add_argument("analisador", nargs="?", help="id do analisador no config.xml, ou o id do medidor")
    parser.add_argument("--chave", default=os.environ.get("MONITOR_CHAVE_CONTROLE") or None,
                        help="chave de controle, para um nó em outra máquina (ou MONITOR_CHAVE_CONTROLE)")
    parser.add_argument("--tempo", type=float, default=5.0, metavar="S", help="espera pela resposta (padrão: 5 s)")
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        parse_address(args.endereco)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        answer = ask(args.endereco, args.verbo, args.analisador, key=args.chave, timeout=args.tempo)
    except NodeUnreachable as exc:
        print(f"medidor {COMMAND}: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    for line in answer.lines:
        print(line)
    return EXIT_ANSWERED_ERROR if answer.failed else 0
