"""`medidor` command line: help a newcomer can act on, clear refusals, environment variables."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from medidor import cli
from medidor.config import ConfigError


def test_help_explains_options_registration_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for text in ("--id", "--servidor", "--chave-registro", "MONITOR_CHAVE_REGISTRO", "--limite-alerta",
                 "--multiplicador", "--intervalo", "--fonte", "--perfil", "--semente", "--acelerar", "--historico",
                 "--estado", "--porta-serial", "--baud", "--paridade", "--endereco", "--host-modbus", "--porta-modbus",
                 "--modelo", "--pulsos-por-kwh", "--config", "simular-dispositivo", "códigos de saída"):
        assert text in out, text


def test_simular_dispositivo_help_lists_the_models_from_the_map_files(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["simular-dispositivo", "--help"])
    out = capsys.readouterr().out
    assert "pm710" in out and "pulsos" in out and "--quadro" in out


@pytest.mark.parametrize("argv, message", [
    ([], "falta --id"),
    (["--id", "casa 1"], "--id deve ter"),
    (["--id", "c", "--intervalo", "0.01"], "--intervalo deve ser"),
    (["--id", "c", "--servidor", "https://x"], "--servidor deve ser uma URL http://"),
    (["--id", "c", "--fonte", "modbus"], "--fonte modbus precisa de --porta-serial"),
    (["--id", "c", "--fuso", "Marte/Olympus"], "--fuso desconhecido"),
])
def test_invalid_options_exit_2_with_a_reason(argv: list[str], message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    assert done.value.code == 2
    assert message in capsys.readouterr().err


def test_environment_variables_configure_the_agent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MONITOR_ID", "padaria")
    monkeypatch.setenv("MONITOR_SERVIDOR", "http://servidor:5000/")
    monkeypatch.setenv("MONITOR_CHAVE_REGISTRO", "segredo")
    monkeypatch.setenv("MONITOR_ESTADO", str(tmp_path))
    monkeypatch.setenv("MONITOR_PERFIL", "comercial")
    monkeypatch.setenv("MONITOR_INTERVALO", "30")
    config = cli.config_from_args(cli.build_parser().parse_args([]))
    assert (config.medidor, config.servidor, config.chave_registro) == ("padaria", "http://servidor:5000", "segredo")
    assert config.estado == tmp_path / "padaria" and config.perfil == "comercial" and config.intervalo_s == 30
    assert config.semente == cli.default_seed("padaria")


def test_servidor_repeated_names_the_reserve_servers_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_SERVIDOR", "http://ambiente:5000")
    args = cli.build_parser().parse_args(["--id", "casa", "--servidor", "http://a:5000/", "--servidor", "http://b:5000",
                                          "--servidor", "http://c:5000"])
    config = cli.config_from_args(args)
    assert config.servidor == "http://a:5000" and config.servidores_reserva == ("http://b:5000", "http://c:5000")
    single = cli.config_from_args(cli.build_parser().parse_args(["--id", "casa"]))
    assert single.servidor == "http://ambiente:5000" and single.servidores_reserva == ()
    with pytest.raises(ConfigError):
        cli.config_from_args(cli.build_parser().parse_args(["--id", "casa", "--servidor", "http://a", "--servidor", "b"]))


def test_unknown_simulated_model_is_refused() -> None:
    done = subprocess.run([sys.executable, "-m", "medidor", "simular-dispositivo", "--modelo", "xyz"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "modelo desconhecido" in done.stderr
