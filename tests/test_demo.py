"""`make demo` as a newcomer runs it: services come up, meters feed the server, the app opens,
and quitting leaves nothing running or listening."""
from __future__ import annotations

import os
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
METERS = ("casa", "loja", "solar", "quadro")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_in(folder: Path) -> list[int]:
    """PIDs whose working directory is `folder`: every process the demo starts runs there."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == folder:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def demo_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update({"MONITOR_DEMO_DIR": str(tmp_path / "demo"), "MONITOR_PORTA": str(port),
                "MONITOR_DEMO_HISTORICO": "1", "PYTHONUNBUFFERED": "1"})
    return env


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


def test_demo_services_feed_the_server_and_stop_cleanly(tmp_path: Path):
    port = free_port()
    demo = subprocess.Popen([sys.executable, "-m", "servidor.demo", "--sem-app"], cwd=ROOT,
                            env=demo_env(tmp_path, port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        counts = wait_meters(port)
        assert counts["casa"] > 24 * 60 * 60 // 15 // 2  # a day of backfill, not just live readings
        assert sorted(processes_in(tmp_path / "demo"))  # server, simulator and four agents run there
    finally:
        demo.send_signal(signal.SIGTERM)
        out, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, out
    assert "todos os processos parados" in out
    assert processes_in(tmp_path / "demo") == []
    assert not listening(port)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux não instalado")
def test_quitting_the_app_in_make_demo_stops_everything(tmp_path: Path):
    port = free_port()
    env = demo_env(tmp_path, port)
    session = f"demo-{os.getpid()}"
    exports = " ".join(f"{k}={v}" for k, v in env.items() if k.startswith(("MONITOR_", "PYTHON")))
    command = f"cd {ROOT} && env {exports} {sys.executable} -m servidor.demo; echo DEMO-SAIU-$?; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", command], check=True)
    try:
        wait_meters(port)
        deadline = time.monotonic() + 60
        screen = ""
        while time.monotonic() < deadline and "Quadro geral" not in screen:
            time.sleep(0.5)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
        assert "Quadro geral" in screen, screen
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "DEMO-SAIU" not in screen:
            time.sleep(0.5)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
        assert "DEMO-SAIU-0" in screen, screen
        assert processes_in(tmp_path / "demo") == []
        assert not listening(port)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
