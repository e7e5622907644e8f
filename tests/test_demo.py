"""`make demo` as a newcomer runs it: services come up, meters feed the server, the app opens,
and quitting leaves nothing running or listening."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Api

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
METERS = ("casa", "loja", "solar", "rede-solar", "quadro", "pulsos")
# What the demo prints once the server listens: the port it picked (MONITOR_PORTA=0).
SERVER_URL = re.compile(r"servidor:\s+http://127\.0\.0\.1:(\d+)/api/v1")
# Every process the demo starts, by what its command line says.
PROCESSES = ["agent casa", "agent loja", "agent pulsos", "agent quadro", "agent rede-solar", "agent solar", "server",
             "simulator", "simulator"]


def processes_in(folder: Path) -> dict[int, str]:
    """PID → what it is, for the processes whose working directory is `folder`: every process
    the demo starts runs there."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == folder:
                    argv = (entry / "cmdline").read_bytes().decode().split("\0")
                    found[int(entry.name)] = _kind(argv)
            except OSError:
                continue
    return found


def _kind(argv: list[str]) -> str:
    if "servidor" in argv:
        return "server"
    if "simular-dispositivo" in argv:
        return "simulator"
    if "--id" in argv:
        return f"agent {argv[argv.index('--id') + 1]}"
    return " ".join(argv)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def demo_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    # Port 0: the server picks a free port itself and the demo says which.
    env.update({"MONITOR_DEMO_DIR": str(tmp_path / "demo"), "MONITOR_PORTA": "0",
                "MONITOR_DEMO_HISTORICO": "1", "PYTHONUNBUFFERED": "1"})
    return env


def _server_port(log: Path, timeout: float = 60) -> int:
    """The port in the server's first line (the app soon covers the terminal the demo prints to)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"servidor ouvindo em http://127\.0\.0\.1:(\d+)/", log.read_text() if log.exists() else "")
        if found:
            return int(found.group(1))
        time.sleep(0.2)
    raise AssertionError(f"the server did not start: {log.read_text() if log.exists() else 'no log'}")


def wait_meters(port: int, timeout: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        try:
            reply = Api(port, "demo-admin").get("/api/v1/medidores")
            counts = {m["id"]: m["resumo"]["leituras"] for m in reply.json["medidores"]}
            if all(counts.get(m, 0) > 0 for m in METERS):
                return counts
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"meters did not report in time: {counts}")


def solar_house_is_shown_as_such(port: int) -> None:
    """The site casa-solar: its panels produce, its grid meter exports at noon without a reset,
    and the panels get no bill and no limit alert."""
    api = Api(port, "demo-admin")
    site = api.get("/api/v1/sites/casa-solar").json
    assert {m["id"]: m["categoria"] for m in site["medidores"]} == {"solar": "pvProd", "rede-solar": "gridNet"}
    deadline = time.monotonic() + 60  # the agents may still be sending their day of history
    while True:
        totals = api.get("/api/v1/sites/casa-solar/consumo?intervalo=dia").json["totais"]
        if totals["producao_kwh"] > 1 and totals["exportado_kwh"] > 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert totals["producao_kwh"] > 1 and totals["exportado_kwh"] > 0 and totals["consumo_kwh"] > 0, totals
    kinds = {a["tipo"] for m in ("solar", "rede-solar") for a in api.get(f"/api/v1/medidores/{m}/alertas").json["alertas"]}
    assert not kinds & {"limite_excedido", "projecao_limite", "reinicio_contador"}, kinds
    assert api.get("/api/v1/medidores/solar/faturas").json["faturas"] == []


def test_demo_services_feed_the_server_and_stop_cleanly(tmp_path: Path):
    demo = subprocess.Popen([sys.executable, "-m", "demo", "--sem-app"], cwd=ROOT,
                            env=demo_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        for line in demo.stdout:  # the announcement comes once every service listens
            seen.append(line)
            found = SERVER_URL.search(line)
            if found:
                port = int(found.group(1))
                break
        else:
            raise AssertionError("".join(seen))
        counts = wait_meters(port)
        assert counts["casa"] > 24 * 60 * 60 // 15 // 2  # a day of backfill, not just live readings
        solar_house_is_shown_as_such(port)
        assert sorted(processes_in(tmp_path / "demo").values()) == PROCESSES
    finally:
        demo.send_signal(signal.SIGTERM)
        out, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, "".join(seen) + out
    assert "todos os processos parados" in out
    assert processes_in(tmp_path / "demo") == {}
    assert not listening(port)


def test_a_second_demo_refuses_and_a_killed_demo_leaves_nothing_behind(tmp_path: Path):
    """Starting over would delete the running demo's files under its agents (they then hold keys
    the new server refuses); and a demo killed outright (kill -9, a closed terminal) must not leave
    its services running in the background."""
    env = demo_env(tmp_path)
    first = subprocess.Popen([sys.executable, "-m", "demo", "--sem-app"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in first.stdout:
            if SERVER_URL.search(line):
                break
        running = processes_in(tmp_path / "demo")
        assert sorted(running.values()) == PROCESSES
        second = subprocess.run([sys.executable, "-m", "demo", "--sem-app"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"outra demonstração já roda (pid {first.pid})" in second.stderr
        assert processes_in(tmp_path / "demo") == running  # the first one untouched
        first.kill()
        first.wait()
        deadline = time.monotonic() + 30
        while processes_in(tmp_path / "demo") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_in(tmp_path / "demo") == {}
    finally:
        if first.poll() is None:
            first.kill()
        for pid in processes_in(tmp_path / "demo"):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux não instalado")
def test_quitting_the_app_in_make_demo_stops_everything(tmp_path: Path):
    env = demo_env(tmp_path)
    session = f"demo-{os.getpid()}"
    exports = " ".join(f"{k}={v}" for k, v in env.items() if k.startswith(("MONITOR_", "PYTHON")))
    command = f"cd {ROOT} && env {exports} {sys.executable} -m demo; echo DEMO-SAIU-$?; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", command], check=True)

    def screen() -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-S", "-100", "-t", session],
                              capture_output=True, text=True).stdout

    def until(condition: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        text = screen()
        while time.monotonic() < deadline and not re.search(condition, text):
            time.sleep(0.5)
            text = screen()
        return text

    try:
        port = _server_port(tmp_path / "demo" / "logs" / "servidor.log")
        wait_meters(port)
        assert "Quadro geral" in until("Quadro geral"), screen()
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
        assert "DEMO-SAIU-0" in until("DEMO-SAIU"), screen()
        assert processes_in(tmp_path / "demo") == {}
        assert not listening(port)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
