"""`medidor simular-dispositivo`: a simulated device whose values follow one of our profiles.

The simulators themselves (Modbus server, CIRBUS responder, Arduino pulse emitter) live in
`drivers.simulated`; this wires them to a profile and prints how to point an agent at them.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import zlib
from typing import Any

from medidor.profiles import PROFILES, make_profile, scaled
from shared import argparse_pt

# Not a map file: the Arduino pulse counter has no registers.
PULSES = "pulsos"

EPILOG = """\
exemplos:
  medidor simular-dispositivo --modelo pm710 --porta-modbus 5020
      um PM710 em Modbus TCP; o agente: medidor --fonte modbus --modelo pm710 --host-modbus 127.0.0.1 --porta-modbus 5020 …
  medidor simular-dispositivo --modelo pm710 --quadro rtu
      quadros RTU sobre TCP; o agente: medidor --fonte modbus --modelo pm710 --porta-serial socket://127.0.0.1:<porta> …
  medidor simular-dispositivo --modelo cvmk
      um Circutor CVMk falando CIRBUS num pseudo-terminal; o agente: medidor --fonte cirbus --porta-serial /dev/pts/N …
  medidor simular-dispositivo --modelo pulsos --pulsos-por-kwh 1000
      um Arduino contando piscadas do LED; o agente: medidor --fonte pulsos --porta-serial /dev/pts/N …

Um modelo Modbus novo só precisa do seu arquivo de mapa em drivers/maps/<modelo>.toml.
Ctrl+C para o simulador.
"""


def _models() -> tuple[str, ...]:
    """Every model with a map file in drivers/maps (Modbus or CIRBUS), and the pulse counter."""
    from drivers import available_models

    return tuple(available_models()) + (PULSES,)


def _protocol(model: str) -> str:
    """"modbus" or "cirbus", as the model's map file says."""
    from drivers.register_map import read_map_document

    _, doc = read_map_document(model)
    return str(doc.get("protocol", "modbus"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse_pt.parser(
        prog="medidor simular-dispositivo",
        description="Serve um dispositivo simulado cujas medidas seguem um perfil de consumo: um analisador "
                    "Modbus (TCP, ou quadros RTU sobre TCP), um CVMk em CIRBUS ou um Arduino de pulsos num "
                    "pseudo-terminal.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--modelo", required=True, type=str.lower,
                        help=f"modelo: {', '.join(_models())}")
    parser.add_argument("--perfil", choices=PROFILES, default="residencial", help="padrão: residencial")
    parser.add_argument("--semente", type=int, help="semente do perfil (padrão: derivada do modelo)")
    parser.add_argument("--multiplicador", type=float, default=1.0, help="multiplica o consumo (padrão: 1.0)")
    parser.add_argument("--fuso", default="America/Sao_Paulo", help="fuso do perfil (padrão: America/Sao_Paulo)")
    parser.add_argument("--host-modbus", default="127.0.0.1", help="endereço de escuta Modbus (padrão: 127.0.0.1)")
    parser.add_argument("--porta-modbus", type=int, default=0, help="porta TCP (padrão: 0, uma livre)")
    parser.add_argument("--quadro", choices=("tcp", "rtu"), default="tcp",
                        help="tcp: Modbus TCP (MBAP); rtu: quadros RTU sobre TCP (padrão: tcp)")
    parser.add_argument("--endereco", type=int, default=1, help="unidade Modbus / endereço CIRBUS (padrão: 1)")
    parser.add_argument("--pulsos-por-kwh", type=float, default=1000.0, help="piscadas por kWh (padrão: 1000)")
    parser.add_argument("--sensor", help="id do sensor: linhas '<id> <ms>' como a variante de vários sensores")
    return parser


def start_simulator(args: argparse.Namespace) -> tuple[Any, str]:
    """Start the simulator `args` describe; returns it and the agent options that reach it."""
    from drivers.simulated import CirbusResponder, ModbusSimulator, PulseEmitter

    seed = args.semente if args.semente is not None else zlib.crc32(args.modelo.encode())
    base = make_profile(args.perfil, seed, args.fuso)
    multiplier = args.multiplicador
    profile = scaled(base, lambda: multiplier)
    if args.modelo == PULSES:
        # A pulse counter only sees consumption: the LED blinks per kWh drawn, never for export.
        emitter = PulseEmitter(lambda t: abs(profile(t)), args.pulsos_por_kwh, sensor=args.sensor)
        path = emitter.start()
        return emitter, f"--fonte pulsos --porta-serial {path} --pulsos-por-kwh {args.pulsos_por_kwh:g}" + (
            f" --sensor {args.sensor}" if args.sensor else "")
    if _protocol(args.modelo) == "cirbus":
        responder = CirbusResponder(profile, args.endereco, modelo=args.modelo)
        path = responder.start()
        return responder, f"--fonte cirbus --porta-serial {path} --endereco {args.endereco}"
    simulator = ModbusSimulator(args.modelo, profile, host=args.host_modbus, port=args.porta_modbus,
                                framer=args.quadro, unit=args.endereco)
    host, port = simulator.start()
    where = (f"--host-modbus {host} --porta-modbus {port}" if args.quadro == "tcp"
             else f"--porta-serial socket://{host}:{port}")
    return simulator, f"--fonte modbus --modelo {args.modelo} {where} --endereco {args.endereco}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.modelo not in _models():
        parser.error(f"modelo desconhecido: {args.modelo} (conhecidos: {', '.join(_models())})")
    if not args.multiplicador > 0:
        parser.error("--multiplicador deve ser > 0")
    try:
        simulator, agent_options = start_simulator(args)
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"medidor simular-dispositivo: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"dispositivo simulado {args.modelo} (perfil {args.perfil}) pronto; aponte o agente com:", flush=True)
    print(f"  medidor --id <id> {agent_options}", flush=True)
    try:
        stop.wait()
    finally:
        simulator.stop()
    print("simulador parado", flush=True)
    return 0
