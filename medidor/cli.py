"""`medidor`: the command line of the meter agent and of `medidor simular-dispositivo`."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Callable, Sequence

from medidor import keyboard
from medidor.agent import Agent
from medidor.config import SOURCES, AgentConfig, ConfigError, DeviceSettings, MqttSettings
from medidor.mqtt_payloads import FORMATS as MQTT_FORMATS
from medidor import node_cli
from medidor.control import KEY_STEP
from medidor.logs import setup_logging
from medidor.exit_codes import EXIT_OK, EXIT_SPOOL_DAMAGED, EXIT_STATE, EXIT_USAGE
from medidor.profiles import PROFILES
from medidor.repair_cli import COMMAND as REPAIR, main as repair_main
from medidor.spool import MAX_RECORDS, SpoolDamaged, SpoolError
from medidor.state import StateError
from medidor.status import STATUS_LOG_EVERY_S, Console, render
from shared import argparse_pt, mqtt_broker

# The status line is redrawn this often in a terminal.
STATUS_REDRAW_S = 0.5
SIMULATE = "simular-dispositivo"
EVENTS = "enviar-eventos"  # energy-sensors' replay clients (medidor/events_cli.py)
TASMOTA = "simular-tasmota"  # medidor/simulate_tasmota.py

EPILOG = f"""\
exemplos:
  medidor --id casa-1 --chave-registro demo-registro
      mede um consumo residencial simulado e envia a http://127.0.0.1:5000 a cada 10 s
  medidor --id padaria --perfil comercial --historico 30 --chave-registro demo-registro
      cria um mês de histórico em segundos e continua em tempo real
  medidor --id casa-2 --historico 1 --acelerar 1440 ...
      um dia simulado por minuto até alcançar o relógio
  medidor --id quadro --fonte modbus --modelo pm710 --porta-serial /dev/ttyUSB0 --baud 19200 --endereco 1 ...
  medidor --id quadro --fonte modbus --modelo pm710 --host-modbus 10.0.0.7 --porta-modbus 502 ...
  medidor --id tomada --fonte mqtt --broker mqtt://127.0.0.1:1883 --topico tele/tomada/SENSOR ...
      uma tomada Tasmota (ou Shelly: --topico shellyplus1pm-a8032ab12345/status/switch:0)
  medidor --config config.xml --chave-registro ...    um agente por analisador do Tesla Analyzer
  medidor {SIMULATE} --modelo pm710                  serve um PM710 simulado (veja --help dele)
  medidor {REPAIR} estado-medidor/casa-1             repara um spool danificado (código de saída 4)
  medidor --config config.xml --porta-controle 7010 ...   com a porta de controle do Tesla Analyzer
  medidor {node_cli.COMMAND} 127.0.0.1:7010 STATUS           um comando à porta de controle (veja --help dele)
  medidor {TASMOTA} --topico tele/tomada/SENSOR     uma tomada Tasmota simulada que publica num broker MQTT

registro: na primeira execução o medidor se registra com a chave de registro do servidor
(--chave-registro ou MONITOR_CHAVE_REGISTRO) e guarda as chaves dele em <estado>/<id>/estado.json;
depois só atualiza o cadastro. As leituras esperam em <estado>/<id>/spool/ até o servidor
confirmá-las: servidor fora do ar não perde nada, e ao voltar o atraso vai em lotes de 1000.

teclas (num terminal): + aumenta o consumo simulado, - diminui, p pausa/retoma, Ctrl+C sai.

variáveis de ambiente (valem como a opção): MONITOR_ID, MONITOR_SERVIDOR, MONITOR_CHAVE_REGISTRO, MONITOR_CHAVE_ESCRITA,
MONITOR_ESTADO, MONITOR_FONTE, MONITOR_PERFIL, MONITOR_INTERVALO, MONITOR_LIMITE_ALERTA,
MONITOR_MULTIPLICADOR, MONITOR_SEMENTE, MONITOR_HISTORICO, MONITOR_ACELERAR, MONITOR_FUSO,
MONITOR_MODELO, MONITOR_PORTA_SERIAL, MONITOR_BAUD, MONITOR_PARIDADE, MONITOR_ENDERECO,
MONITOR_HOST_MODBUS, MONITOR_PORTA_MODBUS, MONITOR_PULSOS_POR_KWH, MONITOR_MAX_SPOOL, MONITOR_CONFIG,
MONITOR_PORTA_CONTROLE, MONITOR_HOST_CONTROLE, MONITOR_CHAVE_CONTROLE,
MONITOR_LOG_LEVEL, MONITOR_BROKER, MONITOR_TOPICO, MONITOR_FORMATO_MQTT, MONITOR_MQTT_USUARIO,
MONITOR_MQTT_SENHA (a senha do broker: só assim ou em --senha-mqtt-arquivo), MONITOR_MQTT_SENHA_ARQUIVO.

códigos de saída: 0 parado normalmente; 2 opção ou arquivo de configuração inválido;
3 diretório de estado inutilizável (ilegível, de outro medidor, em uso por outro processo);
4 spool danificado: leituras gravadas não se leem mais. Nada é apagado e o agente não inicia; a
mensagem diz o arquivo, a posição e quantas leituras estão em jogo. `medidor {REPAIR} <dir>`
guarda todas as leituras intactas (também as depois do dano), descarta só os bytes ilegíveis e
nunca repete um número de sequência. Um registro cortado no fim (gravação interrompida por
kill -9, falta de energia ou disco cheio) é só descartado, sem parar o agente.
"""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_number(name: str, kind: Callable[[str], float | int], default: float | int | None) -> float | int | None:
    value = _env(name)
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        raise SystemExit(f"medidor: a variável {name} deve ser um número (recebido {value!r})") from None


class DeprecatedAlias(argparse.Action):
    """An option's old name: stores the value and says the new name once."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[no-untyped-def]
        print(f"medidor: --porta está obsoleto (no servidor é a porta TCP); use --porta-serial {values}",
              file=sys.stderr)
        setattr(namespace, self.dest, values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse_pt.parser(
        prog="medidor",
        description="Agente de medidor do monitor-energia: mede (simulado ou num aparelho real), guarda cada "
                    "leitura em disco e a envia ao servidor, sem perder nenhuma.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = parser.add_argument_group("medidor e servidor")
    who.add_argument("--id", default=_env("MONITOR_ID"),
                     help="id do medidor no servidor (letras, dígitos, . _ -); obrigatório sem --config")
    who.add_argument("--nome", help="nome mostrado no app (padrão: o id)")
    who.add_argument("--servidor", default=_env("MONITOR_SERVIDOR", "http://127.0.0.1:5000"), action=ServerUrls,
                     help="URL do servidor (padrão: http://127.0.0.1:5000); repita para servidores de reserva "
                          "(num mesmo PostgreSQL): quando um falha, o agente passa ao seguinte")
    parser.set_defaults(servidores_reserva=())
    who.add_argument("--chave-registro", default=_env("MONITOR_CHAVE_REGISTRO"),
                     help="chave de registro do servidor, usada só na primeira execução (ou MONITOR_CHAVE_REGISTRO)")
    who.add_argument("--chave-escrita", default=_env("MONITOR_CHAVE_ESCRITA"),
                     help="chave de escrita nova do medidor, depois que o administrador trocou as chaves "
                          "(guardada no estado no lugar da antiga)")
    who.add_argument("--estado", type=Path, default=Path(_env("MONITOR_ESTADO", "estado-medidor")),
                     help="diretório das chaves e do spool; cada medidor usa <estado>/<id>/ (padrão: ./estado-medidor)")
    who.add_argument("--limite-alerta", type=float, default=_env_number("MONITOR_LIMITE_ALERTA", float, 500.0),
                     metavar="KWH", help="limite de consumo do mês em kWh; passar dele mostra um alerta (padrão: 500)")
    who.add_argument("--multiplicador", type=float, default=_env_number("MONITOR_MULTIPLICADOR", float, 1.0),
                     metavar="F", help="multiplica o consumo simulado; com aparelho real só é informado ao servidor "
                                       "(padrão: 1.0)")
    who.add_argument("--intervalo", type=float, default=_env_number("MONITOR_INTERVALO", float, 10.0), metavar="S",
                     help="segundos entre leituras (padrão: 10; mínimo 0.1)")
    who.add_argument("--fuso", default=_env("MONITOR_FUSO", "America/Sao_Paulo"),
                     help="fuso IANA do medidor (padrão: America/Sao_Paulo)")
    who.add_argument("--categoria", help="categoria no servidor (padrão: gridImport; pvProd com --perfil solar, "
                                         "gridNet com --perfil casa-solar)")
    who.add_argument("--site", default=_env("MONITOR_SITE", None),
                     help="id do site (criado antes em /api/v1/sites) a que o medidor pertence")

    sim = parser.add_argument_group("consumo simulado (--fonte simulado)")
    sim.add_argument("--fonte", choices=SOURCES, default=_env("MONITOR_FONTE", "simulado"),
                     help="de onde vêm as leituras (padrão: simulado)")
    sim.add_argument("--perfil", choices=PROFILES, default=_env("MONITOR_PERFIL", "residencial"),
                     help="residencial (chuveiro, geladeira, picos de manhã e à noite), comercial (loja/padaria), "
                          "solar (inversor fotovoltaico: potência negativa, exporta ao meio-dia), casa-solar (a "
                          "ligação de uma casa com painéis: o contador desce quando exporta) (padrão: residencial)")
    sim.add_argument("--semente", type=int, default=_env_number("MONITOR_SEMENTE", int, None),
                     help="semente do sorteio: a mesma semente repete o mesmo consumo (padrão: derivada do --id)")
    sim.add_argument("--historico", type=float, default=_env_number("MONITOR_HISTORICO", float, 0.0), metavar="DIAS",
                     help="na primeira execução começa DIAS dias atrás e gera esse histórico o mais rápido possível")
    sim.add_argument("--acelerar", type=float, default=_env_number("MONITOR_ACELERAR", float, None), metavar="N",
                     help="o tempo simulado corre N vezes mais rápido até alcançar o relógio real (leituras no "
                          "futuro o servidor recusa); use com --historico")

    dev = parser.add_argument_group("aparelho real (--fonte modbus|cirbus|pulsos)")
    dev.add_argument("--modelo", default=_env("MONITOR_MODELO"), help="modelo Modbus: pm710, pm500, das8000 …")
    dev.add_argument("--porta-serial", dest="porta", default=_env("MONITOR_PORTA_SERIAL"),
                     help="porta serial (/dev/ttyUSB0) ou socket://host:porta para Modbus RTU sobre TCP")
    # The old name: in `servidor`, --porta is a TCP port; here it was the serial one. Still read.
    dev.add_argument("--porta", dest="porta", action=DeprecatedAlias, help=argparse.SUPPRESS)
    dev.add_argument("--baud", type=int, default=_env_number("MONITOR_BAUD", int, 9600), help="padrão: 9600")
    dev.add_argument("--paridade", choices=("N", "E", "O"), default=_env("MONITOR_PARIDADE", "N"), help="padrão: N")
    dev.add_argument("--bits", type=int, default=8, help="bits de dados (padrão: 8)")
    dev.add_argument("--timeout", type=float, default=1.0, metavar="S", help="espera por resposta (padrão: 1 s)")
    dev.add_argument("--endereco", type=int, default=_env_number("MONITOR_ENDERECO", int, 1),
                     help="endereço (unidade Modbus ou CIRBUS) do aparelho (padrão: 1)")
    dev.add_argument("--host-modbus", default=_env("MONITOR_HOST_MODBUS"), help="host de um aparelho Modbus TCP")
    dev.add_argument("--porta-modbus", type=int, default=_env_number("MONITOR_PORTA_MODBUS", int, 502),
                     help="porta Modbus TCP (padrão: 502)")
    dev.add_argument("--pulsos-por-kwh", type=float, default=_env_number("MONITOR_PULSOS_POR_KWH", float, 1000.0),
                     help="piscadas do LED do medidor por kWh (padrão: 1000)")
    dev.add_argument("--sensor", help="id do sensor num contador de pulsos com vários sensores")
    dev.add_argument("--codigos", help="medidas a enviar, separadas por vírgula (TPF,IPF,PAT …; padrão: todas)")

    mqtt_group = parser.add_argument_group("aparelho que publica num broker MQTT (--fonte mqtt)")
    mqtt_group.add_argument("--broker", default=_env("MONITOR_BROKER"), metavar="URL",
                            help="mqtt://host:1883 ou mqtts://host:8883 (TLS); usuário e senha nas opções abaixo")
    mqtt_group.add_argument("--topico", default=_env("MONITOR_TOPICO"),
                            help="tópico do aparelho: tele/<nome>/SENSOR (Tasmota), <prefixo>/status/switch:0 "
                                 "(Shelly Gen2) ou um tópico com {\"energia_wh\": …, \"potencia_w\": …}")
    mqtt_group.add_argument("--formato-mqtt", choices=MQTT_FORMATS, default=_env("MONITOR_FORMATO_MQTT", "auto"),
                            help="formato das mensagens (padrão: auto, reconhecido em cada mensagem)")
    mqtt_broker.add_options(parser, "login e TLS do broker MQTT")

    who.add_argument("--max-spool", type=int, default=_env_number("MONITOR_MAX_SPOOL", int, MAX_RECORDS),
                     metavar="LEITURAS", help="leituras guardadas à espera do servidor, no máximo (padrão: "
                     f"{MAX_RECORDS:_}; ~150-400 bytes cada); com 80%% o agente avisa".replace("_", "."))
    tesla = parser.add_argument_group("configuração do Tesla Analyzer")
    tesla.add_argument("--config", type=Path, default=_env("MONITOR_CONFIG"),
                       help="config.xml: um agente por analisador habilitado")
    tesla.add_argument("--lector", type=Path,
                       help="lector.ini com log_level e log_dir (padrão: lector.ini ao lado do config.xml, se houver)")
    tesla.add_argument("--chave-central", default=_env("MONITOR_CHAVE_CENTRAL"),
                       help="chave do nó na central, para as exportações clientRest (servidor: POST /api/v1/nos/<nó>/chave)")

    node_cli.add_options(parser)
    parser.add_argument("--log-level", type=str.upper, choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        default=_env("MONITOR_LOG_LEVEL"), help="detalhe do log (padrão: INFO)")
    parser.add_argument("--sem-teclado", action="store_true", help="não lê teclas mesmo num terminal")
    return parser


def default_seed(meter_id: str) -> int:
    """A seed fixed by the id: restarts repeat the same consumption, two meters differ."""
    return zlib.crc32(meter_id.encode("utf-8"))


class ServerUrls(argparse.Action):
    """`--servidor`, repeatable: the first given is the agent's server (`servidor`), the others
    (`servidores_reserva`) where it turns when that one does not answer."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if getattr(namespace, "servidor", None) is self.default:
            namespace.servidor = values
        else:
            namespace.servidores_reserva = (*getattr(namespace, "servidores_reserva", ()), values)


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    if not args.id:
        raise ConfigError("falta --id (ou MONITOR_ID): o id do medidor no servidor, por exemplo --id casa-1")
    # A model is a map name (any case) or the path of a map file, kept as given.
    modelo = args.modelo.lower() if args.modelo and not (args.modelo.endswith(".toml") or "/" in args.modelo) \
        else args.modelo
    device = DeviceSettings(modelo=modelo, porta=args.porta, baud=args.baud,
                            paridade=args.paridade, bits=args.bits, timeout_s=args.timeout, endereco=args.endereco,
                            host=args.host_modbus, tcp_porta=args.porta_modbus, pulsos_por_kwh=args.pulsos_por_kwh,
                            sensor=args.sensor)
    codes = tuple(c.strip().upper() for c in args.codigos.split(",") if c.strip()) if args.codigos else None
    mqtt = None
    if args.fonte == "mqtt":
        if not args.broker or not args.topico:
            raise ConfigError("--fonte mqtt precisa de --broker mqtt://host:1883 e --topico")
        try:
            mqtt = MqttSettings(mqtt_broker.broker_from_args(args.broker, args), args.topico, args.formato_mqtt)
        except mqtt_broker.BrokerError as exc:
            raise ConfigError(str(exc)) from None
    return AgentConfig(
        medidor=args.id, servidor=args.servidor.rstrip("/"), estado=args.estado / args.id,
        servidores_reserva=tuple(url.rstrip("/") for url in args.servidores_reserva),
        chave_registro=args.chave_registro, nome=args.nome, fuso=args.fuso, limite_alerta_kwh=args.limite_alerta,
        multiplicador=args.multiplicador, intervalo_s=args.intervalo, fonte=args.fonte, perfil=args.perfil,
        semente=default_seed(args.id) if args.semente is None else args.semente, acelerar=args.acelerar,
        historico_dias=args.historico, categoria=args.categoria, site=args.site, dispositivo=device, codigos=codes,
        max_spool=args.max_spool, chave_escrita=args.chave_escrita, mqtt=mqtt,
    )


def run_agents(agents: Sequence[Agent], console: Console, *, use_keyboard: bool,
               stop: threading.Event | None = None) -> int:
    """Run every agent in its own thread until SIGINT/SIGTERM (or `stop`); joins them all."""
    stop = stop or threading.Event()
    failures: list[BaseException] = []
    log = logging.getLogger("medidor")
    runnable = []
    for agent in agents:
        try:
            agent.open()
        except (StateError, SpoolError, OSError) as exc:
            failures.append(exc)
            log.error("%s: %s", agent.config.medidor, exc)
        else:
            runnable.append(agent)
    if any(isinstance(f, SpoolDamaged) for f in failures):
        # Refuse to start at all: a supervisor restarting the process shows the message again,
        # where agents left running would bury it.
        for agent in runnable:
            agent.close()
        console.finish()
        return EXIT_SPOOL_DAMAGED

    def body(agent: Agent) -> None:
        try:
            agent.run(stop)
        except SpoolDamaged as exc:
            failures.append(exc)
            log.error("%s: %s", agent.config.medidor, exc)
            stop.set()
        except (StateError, SpoolError, ConfigError, OSError) as exc:
            failures.append(exc)
            log.error("%s: %s", agent.config.medidor, exc)
        except Exception as exc:
            failures.append(exc)
            log.exception("%s: erro inesperado", agent.config.medidor)

    threads = [threading.Thread(target=body, args=(a,), name=f"medidor-{a.config.medidor}") for a in runnable]
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    keys = None
    if use_keyboard and keyboard.available():
        def on_key(key: str) -> None:
            for agent in runnable:
                if key == "+":
                    agent.controls.scale_multiplier(KEY_STEP)
                elif key == "-":
                    agent.controls.scale_multiplier(1 / KEY_STEP)
                elif key in "pP":
                    agent.controls.toggle_pause()

        keys = keyboard.Keyboard(on_key)
        console.message(keyboard.HELP)
        keys.start()
    for thread in threads:
        thread.start()
    last_log = 0.0
    try:
        while any(t.is_alive() for t in threads):
            line = " ‖ ".join(render(a.status.snapshot()) for a in runnable)
            if console.interactive:
                console.status(line)
            elif time.monotonic() - last_log >= STATUS_LOG_EVERY_S:
                logging.getLogger("medidor.status").info(line)
                last_log = time.monotonic()
            stop.wait(STATUS_REDRAW_S)
            if stop.is_set():
                break
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        if keys is not None:
            keys.stop()
            keys.join()
        console.finish()
    if any(isinstance(f, SpoolDamaged) for f in failures):
        return EXIT_SPOOL_DAMAGED
    if failures and len(failures) == len(agents):
        return EXIT_USAGE if all(isinstance(f, ConfigError) for f in failures) else EXIT_STATE
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == SIMULATE:
        from medidor.simulate_cli import main as simulate_main

        return simulate_main(argv[1:])
    if argv and argv[0] == REPAIR:
        return repair_main(argv[1:])
    if argv and argv[0] == node_cli.COMMAND:
        return node_cli.main(argv[1:])
    if argv and argv[0] == EVENTS:
        from medidor.events_cli import main as events_main

        return events_main(argv[1:])
    if argv and argv[0] == TASMOTA:
        from medidor.simulate_tasmota import main as tasmota_main

        return tasmota_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console()
    auto_start = True
    if args.config is not None:
        from medidor.tesla_config import TeslaConfigError, agents_from_tesla

        try:
            configs, lector = agents_from_tesla(args)
        except (TeslaConfigError, ConfigError) as exc:
            print(f"medidor: {exc}", file=sys.stderr)
            return EXIT_USAGE
        setup_logging(console, args.log_level or lector.log_level, lector.log_dir)
        auto_start = lector.auto_start
    else:
        try:
            configs = [config_from_args(args)]
        except ConfigError as exc:
            parser.error(str(exc))
        setup_logging(console, args.log_level or "INFO")
    agents = [Agent(c, on_message=console.message) for c in configs]
    return node_cli.run_with_port(args, agents, auto_start, lambda stop: run_agents(
        agents, console, use_keyboard=not args.sem_teclado, stop=stop))


if __name__ == "__main__":
    sys.exit(main())
