"""The servers under test, each in its own process: start, wait until ready, measure, stop.

Output goes to files, not pipes: a server that logs a lot must never block on a full pipe
that nobody reads while the load runs.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
_READY = re.compile(r"ouvindo em http://([\d.]+):(\d+)/")


class ServerProcess:
    """A server started as `argv`, ready once its stdout prints `... ouvindo em http://h:p/...`."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None,
                 workdir: Path | None = None) -> None:
        self.name = name
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self._out = self.workdir / "stdout.log"
        self._err = self.workdir / "stderr.log"
        with open(self._out, "wb") as out, open(self._err, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=ROOT,
                                         env={**os.environ, **(env or {})})
        self.host, self.port = self._wait_ready()

    def _wait_ready(self) -> tuple[str, int]:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            match = _READY.search(self._out.read_text(errors="replace"))
            if match:
                return match.group(1), int(match.group(2))
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.stderr_tail()}")
            time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError(f"{self.name} not ready after {READY_TIMEOUT_S:.0f} s: {self.stderr_tail()}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def memory_kib(self) -> dict[str, int]:
        """VmRSS (resident now) and VmHWM (peak resident) from /proc, in KiB."""
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU the process has used so far (from /proc/<pid>/stat)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stderr_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self._err.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> int:
        """SIGTERM and wait; the exit code (SIGKILL after STOP_TIMEOUT_S, reported as such)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_ceiling() -> ServerProcess:
    return ServerProcess("ceiling", [sys.executable, str(BENCH / "ceiling_server.py")])


def start_net_only() -> ServerProcess:
    return ServerProcess("rede", [sys.executable, str(BENCH / "net_only_server.py")])


class MonitorServer(ServerProcess):
    """`python -m servidor` on a fresh database in its own temporary directory.

    With `profile_to`, it runs under bench/profiled_server.py and writes pstats there on stop.
    With `copy_of` (a stopped MonitorServer), it starts on a copy of that one's databases, so its
    meters, keys and readings are there from the start. `client_limits` keeps the per-client
    limits a deployment has (the load generators play a fleet from one address and turn them off).
    """

    def __init__(self, name: str, profile_to: Path | None = None, cpu_clock: bool = False,
                 copy_of: "MonitorServer | None" = None, client_limits: bool = False,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.admin_key = copy_of.admin_key if copy_of else "adm-" + secrets.token_hex(16)
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.db = workdir / "db.json"
        self.readings_dir = workdir / "db.leituras"
        if copy_of is not None:
            shutil.copy2(copy_of.db, self.db)
            shutil.copytree(copy_of.readings_dir, self.readings_dir)
        options = ["--porta", "0", "--db", str(self.db), "--log-level", "WARNING"]
        if not client_limits:
            # The load comes from one address (127.0.0.1) playing a whole fleet: per-client limits off.
            options += ["--conexoes-por-cliente", "0", "--requisicoes-por-segundo", "0"]
        options += extra_args
        if profile_to is None:
            argv = [sys.executable, "-m", "servidor", *options]
        else:
            argv = [sys.executable, str(BENCH / "profiled_server.py"), str(profile_to),
                    *(["--cpu"] if cpu_clock else []), "--", *options]
        env = {"MONITOR_CHAVE_ADMIN": self.admin_key, "MONITOR_CHAVE_REGISTRO": "reg-" + secrets.token_hex(16)}
        super().__init__(name, argv, env, workdir)

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
        """One request on a fresh connection (setup and checks only, never measured)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        try:
            conn.request(method, path, json.dumps(body) if body is not None else None, headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        return response.status, json.loads(data) if data else None

    def create_meter(self, meter_id: str) -> str:
        """Register a meter; its write key."""
        status, body = self.call("POST", "/api/v1/medidores", {"id": meter_id, "nome": meter_id}, self.admin_key)
        if status != 201:
            raise RuntimeError(f"POST /api/v1/medidores {meter_id}: {status} {body}")
        return body["chave_escrita"]

    def health(self) -> dict[str, Any]:
        status, body = self.call("GET", "/api/v1/saude")
        if status != 200:
            raise RuntimeError(f"GET /api/v1/saude: {status} {body}")
        return body

    def disk_bytes(self) -> int:
        """Bytes of every file under the readings directory, as `du --apparent-size` counts."""
        return sum(p.stat().st_size for p in self.readings_dir.rglob("*") if p.is_file())
