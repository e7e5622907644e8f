"""Run `servidor` as a real subprocess for CLI, crash and curl tests."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ADMIN = "admin-do-subprocesso"
READY = re.compile(r"servidor ouvindo em http://([\d.]+):(\d+)/api/v1")
# A cold interpreter importing the server takes well under a second; 20 s absorbs a loaded CI box.
START_TIMEOUT_S = 20.0


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    port: int
    output: list[str]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update({"MONITOR_CHAVE_ADMIN": ADMIN, "MONITOR_CHAVE_REGISTRO": "registro-do-subprocesso", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "servidor", *args], capture_output=True, text=True,
                          env=env or server_env(), timeout=timeout)


def start(db: Path, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
    proc = subprocess.Popen(
        [sys.executable, "-m", "servidor", "--porta", "0", "--db", str(db), "--log-level", "WARNING", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env or server_env(),
    )
    output: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        match = READY.search(line)
        if match:
            return ServerProcess(proc, int(match.group(2)), output)
    proc.kill()
    raise AssertionError("servidor did not start: " + "".join(output))
