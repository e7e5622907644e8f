"""`usuario` as a program: the --menu driven through stdin, the TUI under tmux, and where the
address and key come from."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from servidor import example
from tests import server_process
from tests.conftest import ADMIN, Running
from usuario import format as fmt
from usuario.config import ConfigError, resolve, save_config

ROOT = Path(__file__).resolve().parent.parent
CASA_READ, _ = example.DEMO_KEYS["casa-silva"]
LEGACY_PAYLOAD = {
    "consumo_atual_kWh": 312, "consumo_kwh": 312, "consumo_total_kWh": 4821, "alerta": "",
    "Fatura_Atual": [{"data_hora": "22/11/2026 09:59:50", "consumo_kwh": 201}],
    "Valor_da_Fatura": "R$ 2410.50",
}
# A cold interpreter importing Textual and drawing the first screen; generous for a loaded CI box.
TUI_START_TIMEOUT_S = 20.0


def send_like_004_meter(port: int, meter_id: str, payload: dict) -> None:
    """004's meter: POST without Content-Length, the body ends when it closes its side."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"POST /{meter_id} HTTP/1.1\r\nHost: localhost:5000\r\n\r\n".encode() + json.dumps(payload).encode())
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        while sock.recv(4096):
            pass


def run_usuario(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    clean["MONITOR_USUARIO_CONFIG"] = "/nonexistent/usuario.toml"
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "usuario", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=clean, timeout=60)


# -- the menu ---------------------------------------------------------------------------------------

def test_menu_shows_a_native_meters_numbers_through_stdin(seeded: Running):
    meter = seeded.client(CASA_READ).get("/api/v1/medidores/casa-silva").json
    result = run_usuario("--menu", "--servidor", f"http://127.0.0.1:{seeded.port}", "--chave", CASA_READ,
                         stdin="casa-silva\n1\n2\n3\n4\n9\n0\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Medidor Casa da família Silva (casa-silva)" in out
    assert "1 - consumo atual" in out and "0 - sair" in out
    assert f"{fmt.kwh(meter['resumo']['kwh_hoje'])} hoje" in out
    assert f"{fmt.kwh(meter['resumo']['kwh_mes'])} neste mês" in out
    assert f"contador do medidor {fmt.kwh(meter['ultima_leitura']['energia_wh'] / 1000)}" in out
    today = datetime.now(ZoneInfo(meter["fuso"])).date().isoformat()
    invoice = seeded.client(CASA_READ).get(f"/api/v1/medidores/casa-silva/faturas/{today}").json
    assert f"Fatura atual ({invoice['ciclo']['rotulo']}" in out
    for line in invoice["linhas"]:
        assert f"{line['descricao']}: {line['calculo']}" in out
    assert f"Valor da fatura: {fmt.brl(invoice['total'])}" in out
    assert "Opção inválida" in out and out.rstrip().endswith("Até logo.")


def test_menu_falls_back_to_004s_route_for_a_legacy_id(seeded: Running):
    send_like_004_meter(seeded.port, "medidor-antigo", LEGACY_PAYLOAD)
    result = run_usuario("--menu", "--servidor", f"http://127.0.0.1:{seeded.port}", "--chave", CASA_READ,
                         stdin="medidor-antigo\n1\n2\n3\n4\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Medidor antigo (004) medidor-antigo" in out
    assert "Consumo atual: 312,00 kWh" in out and "Consumo total: 4.821,00 kWh" in out
    assert "22/11/2026 09:59:50  201 kWh" in out and "Valor da fatura: R$ 2410.50" in out


def test_menu_reads_the_server_from_the_environment_and_reports_an_unknown_id(seeded: Running):
    result = run_usuario("--menu", stdin="nao-existe\n",
                         env={"MONITOR_SERVIDOR": f"127.0.0.1:{seeded.port}", "MONITOR_CHAVE": ADMIN})
    assert result.returncode == 1
    assert "medidor nao-existe não encontrado" in result.stdout


def test_menu_without_a_server_is_a_usage_error():
    result = run_usuario("--menu", stdin="")
    assert result.returncode == 2 and "--servidor" in result.stderr


# -- the terminal app under tmux --------------------------------------------------------------------

class Tmux:
    """A tmux server of our own (its own socket), so nothing else running tmux is touched."""

    def __init__(self, name: str) -> None:
        self.socket = f"usuario-test-{os.getpid()}-{name}"

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_app_runs_in_a_real_terminal_at_80x24(tmp_path: Path):
    db = tmp_path / "db.json"
    shutil.copyfile(ROOT / "db.json.example", db)
    server = server_process.start(db, env=server_process.server_env(MONITOR_DEMO="1"))  # its keys are public
    tmux = Tmux("app")
    try:
        command = (f"{sys.executable} -m usuario --servidor http://127.0.0.1:{server.port} "
                   f"--chave {server_process.ADMIN} --config {tmp_path / 'usuario.toml'} --exportar-para {tmp_path}")
        tmux("new-session", "-d", "-s", "app", "-x", "80", "-y", "24", "-c", str(ROOT), command)
        tmux.wait_for("3 medidores", TUI_START_TIMEOUT_S)
        screen = tmux.wait_for("^p Comandos")
        # Names are cut to the column's width at 80 columns.
        assert "Casa da família" in screen and "Escola Municipal" in screen and "Padaria Sol Nasc" in screen
        tmux("send-keys", "-t", "app", "p", "a", "d")
        screen = tmux.wait_for("1 de 3 medidores")
        assert "Casa da família" not in screen
        tmux("send-keys", "-t", "app", "Enter")
        screen = tmux.wait_for("Visão geral")
        assert "Padaria Sol Nascente · padaria-sol" in screen and "do limite de 1.500,00 kWh" in screen
        tmux("send-keys", "-t", "app", "3")
        tmux.wait_for("Fatura de")
        tmux("send-keys", "-t", "app", "e")
        tmux.wait_for("Fatura exportada")
        assert list(tmp_path.glob("fatura-padaria-sol-*.csv"))
        tmux("send-keys", "-t", "app", "C-q")
        deadline = time.monotonic() + 10
        while "app" in tmux("list-sessions") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "app" not in tmux("list-sessions")
    finally:
        tmux("kill-server")
        server.stop()


# -- where the address and key come from ------------------------------------------------------------

def test_command_line_beats_environment_beats_config_file(tmp_path: Path):
    path = tmp_path / "usuario.toml"
    save_config(path, "http://arquivo:1", "chave-do-arquivo")
    env = {"MONITOR_SERVIDOR": "http://ambiente:2"}
    settings = resolve(servidor=None, chave=None, tema=None, config_path=path, exportar_para=None, env=env)
    assert (settings.servidor, settings.servidor_source) == ("http://ambiente:2", "MONITOR_SERVIDOR")
    assert (settings.chave, settings.chave_source) == ("chave-do-arquivo", str(path))
    settings = resolve(servidor="http://linha:3", chave="k", tema="claro", config_path=path, exportar_para=None, env=env)
    assert (settings.servidor, settings.chave, settings.textual_theme) == ("http://linha:3", "k", "textual-light")


def test_config_file_location_follows_xdg_and_a_broken_file_is_reported(tmp_path: Path):
    settings = resolve(servidor=None, chave=None, tema=None, config_path=None, exportar_para=None,
                       env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert settings.config_path == tmp_path / "monitor-energia" / "usuario.toml"
    assert settings.servidor is None and settings.chave is None
    broken = tmp_path / "broken.toml"
    broken.write_text("servidor = 5\n")
    with pytest.raises(ConfigError, match="deve ser um texto"):
        resolve(servidor=None, chave=None, tema=None, config_path=broken, exportar_para=None, env={})
    result = run_usuario("--config", str(broken), "--menu")
    assert result.returncode == 2 and "deve ser um texto" in result.stderr


def test_invoices_are_exported_to_one_documented_folder_not_where_the_app_started(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "ana"))
    settings = resolve(servidor=None, chave=None, tema=None, config_path=tmp_path / "nada.toml",
                       exportar_para=None, env={})
    assert settings.exportar_para == tmp_path / "ana" / "monitor-energia" / "exportacoes"
    env = {"MONITOR_EXPORTAR_PARA": "~/planilhas"}
    assert resolve(servidor=None, chave=None, tema=None, config_path=tmp_path / "nada.toml", exportar_para=None,
                   env=env).exportar_para == tmp_path / "ana" / "planilhas"
    path = tmp_path / "usuario.toml"
    path.write_text('exportar_para = "~/contas"\n')
    assert resolve(servidor=None, chave=None, tema=None, config_path=path, exportar_para=None,
                   env={}).exportar_para == tmp_path / "ana" / "contas"
    monkeypatch.chdir(tmp_path)
    given = resolve(servidor=None, chave=None, tema=None, config_path=path, exportar_para=Path("aqui"), env=env)
    assert given.exportar_para == tmp_path / "aqui" and given.exportar_para.is_absolute()
