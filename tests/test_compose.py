"""The compose files and the Dockerfiles, checked without a Docker engine (none runs here):
hadolint lints the Dockerfiles; every service of the demo compose (docker-compose.demo.yml) runs
locally with its environment, each container's name and volume mapped to loopback and a temp
dir, until the meters' readings reach the server; the production compose (docker-compose.yml)
is checked for what a deployment needs (tests/test_compose_production.py)."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import Api
from tests.ports import reserved_port

ROOT = Path(__file__).resolve().parent.parent
HADOLINT = Path(sys.executable).parent / "hadolint"
pytestmark = pytest.mark.slow
# The compose file backfills 30 days per meter; here 0.2 days prove the same path in a fraction
# of the time (a month of 10-s readings takes ~20 s per meter on this machine).
TEST_HISTORY_DAYS = "0.2"
READY_TIMEOUT_S = 60


def dockerfile(name: str) -> tuple[list[str], dict[str, str]]:
    """(ENTRYPOINT, ENV) of a Dockerfile: what a container of it starts with."""
    text = (ROOT / name).read_text()
    entry = re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M)
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV ((?:.*\\\n)*.*)$", text, re.M):
        for key, value in re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")):
            env[key] = value
    return (json.loads(entry.group(1)) if entry else []), env


@pytest.mark.parametrize("name", ["Dockerfile.servidor", "Dockerfile.medidor"])
def test_dockerfiles_pass_hadolint(name: str):
    result = subprocess.run([str(HADOLINT), str(ROOT / name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["Dockerfile.servidor", "Dockerfile.medidor"])
def test_dockerfiles_run_as_non_root_with_a_volume(name: str):
    text = (ROOT / name).read_text()
    assert re.search(r"^USER 10001$", text, re.M)
    assert re.search(r"^VOLUME ", text, re.M)
    # Pinned by digest: a rebuild gets the base that was tested, not whatever the tag means then.
    assert re.search(r"^FROM python:3\.11-slim@sha256:[0-9a-f]{64}$", text, re.M)


def test_pinned_install_resolves_within_the_project_ranges():
    """The images' `pip install -c constraints.txt .`, resolved (not installed) here."""
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps",
                             "-c", str(ROOT / "constraints.txt"), "-r", "/dev/stdin"],
                            input=_runtime_requirements(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def _runtime_requirements() -> str:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = project["optional-dependencies"]
    return "\n".join(project["dependencies"] + groups["servidor"] + groups["medidor"] + groups["usuario"])


def test_compose_services_run_locally_and_every_meter_reaches_the_server(tmp_path: Path):
    # Both ports stay reserved (bound, refusing) until the test ends; the server and the simulator
    # listen on them meanwhile (tests/ports.py).
    with reserved_port() as http_port, reserved_port() as modbus_port:
        _run_compose_locally(tmp_path, http_port, modbus_port)


def _run_compose_locally(tmp_path: Path, http_port: int, modbus_port: int) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.demo.yml").read_text())
    services = compose["services"]
    assert set(services) == {"servidor", "casa", "loja", "solar", "analisador", "quadro"}
    host_of = {name: "127.0.0.1" for name in services}

    def local(value: str) -> str:
        value = value.replace("0.0.0.0", "127.0.0.1")
        for name in services:
            value = re.sub(rf"(?<![\w-]){name}(?=:\d)", host_of[name], value)
        value = value.replace(":5000", f":{http_port}")
        return {"5000": str(http_port), "5020": str(modbus_port), "analisador": "127.0.0.1"}.get(value, value)

    processes: dict[str, subprocess.Popen] = {}
    try:
        for name in ("servidor", "analisador", "casa", "loja", "solar", "quadro"):
            spec = services[name]
            entrypoint, image_env = dockerfile(spec["build"]["dockerfile"])
            argv = [local(a) for a in entrypoint + list(spec["command"])]
            env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
            env.update({k: local(str(v)) for k, v in {**image_env, **(spec.get("environment") or {})}.items()})
            for volume in spec.get("volumes") or []:
                _, inside = volume.split(":")
                folder = tmp_path / name / inside.strip("/")
                folder.mkdir(parents=True, exist_ok=True)
                env = {k: v.replace(inside, str(folder)) if v.startswith(inside) else v for k, v in env.items()}
            if "MONITOR_HISTORICO" in env:
                env["MONITOR_HISTORICO"] = TEST_HISTORY_DAYS
            program = {"servidor": "servidor", "medidor": "medidor"}[argv[0]]
            processes[name] = subprocess.Popen([sys.executable, "-m", program, *argv[1:]], env=env, cwd=tmp_path,
                                               stdout=open(tmp_path / f"{name}.log", "w"), stderr=subprocess.STDOUT)
            if name in ("servidor", "analisador"):
                _wait_listening(http_port if name == "servidor" else modbus_port, processes[name], tmp_path / f"{name}.log")
        admin = Api(http_port, services["servidor"]["environment"]["MONITOR_CHAVE_ADMIN"])
        deadline = time.monotonic() + READY_TIMEOUT_S
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            listing = admin.get("/api/v1/medidores")
            if listing.status == 200:
                counts = {m["id"]: m["resumo"]["leituras"] for m in listing.json["medidores"]}
                if all(counts.get(m, 0) > 0 for m in ("casa", "loja", "solar", "quadro")):
                    break
            time.sleep(0.5)
        logs = {n: (tmp_path / f"{n}.log").read_text()[-1500:] for n in processes}
        assert all(counts.get(m, 0) > 0 for m in ("casa", "loja", "solar", "quadro")), (counts, logs)
        meters = {m["id"]: m for m in admin.get("/api/v1/medidores").json["medidores"]}
        assert meters["solar"]["categoria"] == "pvProd"
        assert counts["casa"] > 1000  # the backfill arrived, not just the live readings
        admin.close()
    finally:
        codes = stopped(processes)
    assert all(code == 0 for code in codes.values()), codes


def stopped(processes: dict[str, subprocess.Popen]) -> dict[str, int | str]:
    """SIGTERM to each still running, the last started first; each one's exit code ("killed"
    when it did not stop within 20 s)."""
    for proc in reversed(list(processes.values())):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes: dict[str, int | str] = {}
    for name, proc in processes.items():
        try:
            codes[name] = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            codes[name] = "killed"
    return codes


def _wait_listening(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited early: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"not listening on {port}: {log.read_text()[-2000:]}")
