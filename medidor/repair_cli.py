"""`medidor reparar DIR`: repair a damaged spool, keeping every intact reading.

DIR is the directory the agent named when it refused to start (`<estado>/<id>/spool`) or the
meter's state directory above it (`<estado>/<id>`). The seq floor comes from `estado.json`'s
reservation, so no seq that may have reached the server is used again.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medidor.exit_codes import EXIT_OK, EXIT_STATE
from medidor.sequence import SEQ_RESERVE
from medidor.spool import SpoolError
from medidor.spool.layout import CURSOR_FILE, LEGACY_CURSOR_FILE, list_segments
from medidor.spool.repair import repair
from medidor.state import StateError, StateFile
from shared import argparse_pt

COMMAND = "reparar"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse_pt.parser(
        prog=f"medidor {COMMAND}",
        description="Repara o spool de um medidor que o agente recusou abrir por estar danificado: guarda todas "
                    "as leituras intactas (antes e depois do trecho danificado), descarta só os bytes ilegíveis "
                    "e garante que nenhum número de sequência já usado se repita.",
        epilog="o agente do medidor deve estar parado. Depois do reparo, inicie-o como antes: as leituras "
               "guardadas seguem para o servidor.",
    )
    parser.add_argument("diretorio", type=Path, help="o spool (<estado>/<id>/spool) ou o diretório do medidor "
                                                     "(<estado>/<id>)")
    return parser


def _spool_dir(directory: Path) -> Path | None:
    for candidate in (directory / "spool", directory):
        if candidate.is_dir() and (list_segments(candidate) or (candidate / CURSOR_FILE).exists()
                                   or (candidate / LEGACY_CURSOR_FILE).exists()):
            return candidate
    return None


def _number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    spool_dir = _spool_dir(args.diretorio)
    if spool_dir is None:
        print(f"medidor {COMMAND}: não há spool em {args.diretorio}", file=sys.stderr)
        return EXIT_STATE
    try:
        state = StateFile(spool_dir.parent).load()
    except StateError as exc:
        print(f"medidor {COMMAND}: aviso: {exc}", file=sys.stderr)
        state = None
    if state is None:
        # Without the reservation, stay far above every seq still readable.
        print(f"medidor {COMMAND}: aviso: sem {spool_dir.parent / 'estado.json'}; os números de sequência "
              f"recomeçam {_number(SEQ_RESERVE)} acima do maior que restou", file=sys.stderr)
    try:
        result = repair(spool_dir, floor_at_least=0 if state is None else state.proximo_seq,
                        margin=SEQ_RESERVE if state is None else 0)
    except (SpoolError, OSError) as exc:
        print(f"medidor {COMMAND}: {exc}", file=sys.stderr)
        return EXIT_STATE
    if not result.repaired:
        print(f"spool em {spool_dir} íntegro: {_number(result.kept)} leituras esperando envio; nada a reparar")
        return EXIT_OK
    print(f"spool em {spool_dir} reparado: {_number(result.kept)} leituras intactas guardadas "
          f"({_number(result.kept_after_damage)} delas depois do dano).")
    for damage in result.dropped:
        what = f"{damage.size} bytes na posição {damage.offset}" if damage.size else "o arquivo inteiro"
        print(f"  descartado: {damage.path.name}, {what}: {damage.reason}")
    print(f"o próximo número de sequência será {_number(result.floor or 0)} ou maior: nenhum já usado se repete.")
    return EXIT_OK
