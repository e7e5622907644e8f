"""Everything a user reads is in Portuguese (issue 14 #5): every program's and subcommand's help
and usage errors carry none of argparse's English, the terminal app's palette neither."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from medidor.cli import build_parser as medidor_parser

# argparse's own words, as Python 3.11-3.13 write them; our texts never use them.
ENGLISH = re.compile(r"\busage:|\boptions:|optional arguments|positional arguments|show this help|"
                     r"\berror:|expected one argument|invalid choice|unrecognized arguments|"
                     r"the following arguments are required|one of the arguments|not allowed with|"
                     r"\(default:|help message")
HELPS = [
    ("servidor", "--help"), ("servidor", "reparar", "--help"), ("servidor", "chave", "nova", "--help"),
    ("servidor", "exportar", "--help"), ("servidor", "importar", "--help"), ("servidor", "backup", "--help"),
    ("servidor", "restaurar", "--help"), ("servidor", "migrar", "--help"),
    ("medidor", "--help"), ("medidor", "simular-dispositivo", "--help"), ("medidor", "reparar", "--help"),
    ("usuario", "--help"),
]
MISTAKES = [
    ("servidor", "--porta", "x"), ("servidor", "--nada"), ("servidor", "chave", "nova"),
    ("servidor", "chave", "nova", "--admin", "--registro"), ("servidor", "reparar", "--db"),
    ("servidor", "exportar"), ("servidor", "importar", "a.csv", "--nada"), ("servidor", "exportar", "x", "--de", "ontem"),
    ("servidor", "backup"), ("servidor", "restaurar"), ("servidor", "migrar", "--de", "db.json"),
    ("medidor", "--fonte", "z"), ("medidor", "--intervalo"), ("medidor", "simular-dispositivo", "--modelo"),
    ("usuario", "--nada"), ("usuario", "--tema", "roxo"),
]


def run(*argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("argv", HELPS, ids=" ".join)
def test_help_is_in_portuguese(argv):
    result = run(*argv)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("uso: ")
    assert "mostra esta ajuda e sai" in result.stdout
    assert not ENGLISH.findall(result.stdout), result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("argv", MISTAKES, ids=" ".join)
def test_usage_errors_are_in_portuguese(argv):
    result = run(*argv)
    assert result.returncode == 2
    assert ": erro: " in result.stderr or "uso:" in result.stderr, result.stderr
    assert not ENGLISH.findall(result.stderr), result.stderr


def test_medidor_takes_the_serial_port_as_porta_serial_and_the_old_name_with_a_warning(capsys):
    parser = medidor_parser()
    assert parser.parse_args(["--id", "c", "--porta-serial", "/dev/ttyUSB0"]).porta == "/dev/ttyUSB0"
    assert capsys.readouterr().err == ""
    assert parser.parse_args(["--id", "c", "--porta", "/dev/ttyACM0"]).porta == "/dev/ttyACM0"
    assert "use --porta-serial /dev/ttyACM0" in capsys.readouterr().err
    assert "--porta " not in parser.format_help().replace("--porta-serial", "").replace("--porta-modbus", "")


@pytest.mark.anyio
@pytest.mark.slow
async def test_the_command_palette_asks_in_portuguese(tmp_path):
    from textual.command import CommandInput

    from tests.test_usuario_app import make_app

    app = make_app(tmp_path, None, None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.query_one(CommandInput).placeholder == "Busque um comando…"
        artifacts = Path(__file__).resolve().parent.parent / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        app.save_screenshot("paleta.svg", str(artifacts))  # what a person sees (not committed)
        await pilot.press("escape")
        app.search_themes()
        await pilot.pause()
        assert app.screen.query_one(CommandInput).placeholder == "Busque um tema…"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
