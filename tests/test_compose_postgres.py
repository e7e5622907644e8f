"""docker-compose.postgres.yml: two servers on one PostgreSQL, simulated meters given both.

No Docker engine runs here. The file is checked as a deployment (keys and the database's
password from .env, ports on loopback, every volume and dependency it names defined, the servers
on the database's service, each meter given both servers); the database's health check runs
against the local PostgreSQL; and the servers' and the meters' commands run locally with their
containers' environments, on a fresh schema for the database's service, until every meter's
readings are stored, and then after a `kill -9` of server A the meters that started on it go on
through B."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict

from tests import postgres
from tests.conftest import Api
from tests.ports import reserved_port
from tests.test_compose import _wait_listening, dockerfile, stopped
from tests.test_compose_production import MissingVariable, dot_env, interpolate

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
SERVERS = ("servidor-a", "servidor-b")
METERS = ("casa", "loja", "solar")
# The compose file backfills 7 days every 10 s; a tenth of an hour every second proves the same
# paths quickly, and lets a meter's next reading come within a second of a server's death.
TEST_HISTORY_DAYS = "0.005"
TEST_INTERVAL_S = "1"
READY_TIMEOUT_S = 60
# Readings a meter that started on A must store through B after A died.
AFTER_THE_KILL = 3


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.postgres.yml").read_text())


def resolved(node: Any, env: dict[str, str]) -> Any:
    """The compose file as Docker Compose reads it with `env` (.env): every string interpolated."""
    if isinstance(node, dict):
        return {k: resolved(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [resolved(v, env) for v in node]
    return interpolate(node, env) if isinstance(node, str) else node


def example() -> dict[str, Any]:
    return resolved(compose(), dot_env(ROOT / ".env.example"))


def named_volumes(spec: dict[str, Any]) -> list[str]:
    return [v.split(":")[0] for v in spec.get("volumes", []) if not v.startswith(("/", "."))]


def servers_of(spec: dict[str, Any]) -> list[str]:
    """The --servidor URLs a meter's command gives, in order."""
    command = spec["command"]
    return [command[i + 1] for i, arg in enumerate(command) if arg == "--servidor"]


def test_the_keys_and_the_database_password_must_come_from_the_users_env_file():
    with pytest.raises(MissingVariable, match=r"\.env"):
        resolved(compose(), {})
    env = dot_env(ROOT / ".env.example")
    for missing in ("MONITOR_SENHA_BANCO", "MONITOR_CHAVE_ADMIN", "MONITOR_CHAVE_REGISTRO"):
        with pytest.raises(MissingVariable, match=missing):
            resolved(compose(), {k: v for k, v in env.items() if k != missing})
    services = example()["services"]
    password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password == env["MONITOR_SENHA_BANCO"]
    for name in SERVERS:
        server = services[name]["environment"]
        assert server["PGPASSWORD"] == password and password not in server["MONITOR_BANCO"]
        assert server["MONITOR_CHAVE_ADMIN"] == env["MONITOR_CHAVE_ADMIN"]
        assert server["MONITOR_SEM_LEGADO"] == "1"
        assert "MONITOR_RETENCAO_MESES" not in server  # refused with --banco: old partitions are dropped instead
    for name in METERS:
        assert services[name]["environment"]["MONITOR_CHAVE_REGISTRO"] == env["MONITOR_CHAVE_REGISTRO"]


def test_two_servers_on_the_database_service_and_meters_given_both():
    spec = example()
    services = spec["services"]
    assert set(services) == {"postgres", *SERVERS, *METERS}
    database = services["postgres"]
    assert re.fullmatch(r"postgres:\d+", database["image"])  # the official image, one major version
    assert database["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert "ports" not in database  # reached by the servers only, on the compose network
    assert "banco" in named_volumes(database)
    for name, service in services.items():
        assert set(named_volumes(service)) <= set(spec["volumes"]), name
        assert set(service.get("depends_on", {})) <= set(services), name
    published = []
    for name in SERVERS:
        server = services[name]
        assert server["build"]["dockerfile"] == "Dockerfile.servidor"
        assert server["depends_on"] == {"postgres": {"condition": "service_healthy"}}
        url = conninfo_to_dict(server["environment"]["MONITOR_BANCO"])
        db_env = database["environment"]
        assert (url["host"], url["user"], url["dbname"]) == ("postgres", db_env["POSTGRES_USER"], db_env["POSTGRES_DB"])
        [port] = server["ports"]
        assert port.startswith("127.0.0.1:") and port.endswith(":" + server["environment"]["MONITOR_PORTA"]), port
        published.append(port.split(":")[1])
    assert len(set(published)) == 2
    inside = {f"http://{name}:{services[name]['environment']['MONITOR_PORTA']}" for name in SERVERS}
    for name in METERS:
        assert set(servers_of(services[name])) == inside and len(servers_of(services[name])) == 2, name
        assert set(services[name]["depends_on"]) == set(SERVERS)
    assert {servers_of(services[name])[0] for name in METERS} == inside  # spread over both


def test_the_server_image_carries_the_postgresql_driver():
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {re.match(r"[\w-]+", r).group() for r in groups["servidor"]} >= {"psycopg", "psycopg-pool"}
    assert "'.[servidor]'" in (ROOT / "Dockerfile.servidor").read_text()


def test_the_database_health_check_tells_a_running_postgresql_from_none():
    postgres.require()
    check = example()["services"]["postgres"]["healthcheck"]["test"][1:]
    local = conninfo_to_dict(postgres.URL)
    assert check[check.index("--host") + 1] == "127.0.0.1"  # over TCP, as inside the container
    argv = [*check, "--port", str(local.get("port") or 5432), "--timeout", "3"]
    argv[argv.index("--host") + 1] = local.get("host") or "127.0.0.1"
    assert subprocess.run(argv, capture_output=True, timeout=30).returncode == 0
    with reserved_port() as nothing:
        argv[argv.index("--port") + 1] = str(nothing)
        assert subprocess.run(argv, capture_output=True, timeout=30).returncode != 0


def test_the_services_run_locally_and_the_meters_of_a_killed_server_go_on_through_the_other(tmp_path: Path):
    with postgres.fresh_schema() as url, reserved_port() as port_a, reserved_port() as port_b:
        _run_locally(tmp_path, url, {"servidor-a": port_a, "servidor-b": port_b})


def _run_locally(tmp_path: Path, url: str, ports: dict[str, int]) -> None:
    services = example()["services"]

    def local(value: str) -> str:
        for name, port in ports.items():
            value = value.replace(f"http://{name}:5000", f"http://127.0.0.1:{port}")
        return value.replace("0.0.0.0", "127.0.0.1")

    processes: dict[str, subprocess.Popen] = {}

    def start(name: str) -> None:
        spec = services[name]
        entrypoint, image_env = dockerfile(spec["build"]["dockerfile"])
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "PG"))}
        env.update({k: local(str(v)) for k, v in {**image_env, **spec["environment"]}.items()})
        if name in ports:
            env.update(MONITOR_PORTA=str(ports[name]), MONITOR_BANCO=url)  # the database service's, here
        else:
            env.update(MONITOR_HISTORICO=TEST_HISTORY_DAYS, MONITOR_INTERVALO=TEST_INTERVAL_S)
        for volume in spec.get("volumes") or []:
            inside = volume.split(":")[1]
            folder = tmp_path / name / inside.strip("/")
            folder.mkdir(parents=True, exist_ok=True)
            env = {k: str(folder) if v == inside else v for k, v in env.items()}
        argv = [local(a) for a in entrypoint + list(spec["command"])]
        program = {"servidor": "servidor", "medidor": "medidor"}[argv[0]]
        processes[name] = subprocess.Popen([sys.executable, "-m", program, *argv[1:]], env=env, cwd=tmp_path,
                                           stdout=open(tmp_path / f"{name}.log", "a"), stderr=subprocess.STDOUT)
        if name in ports:
            _wait_listening(ports[name], processes[name], tmp_path / f"{name}.log")

    def logs() -> dict[str, str]:
        return {n: (tmp_path / f"{n}.log").read_text()[-1500:] for n in processes}

    try:
        for name in (*SERVERS, *METERS):
            start(name)
        key = services["servidor-a"]["environment"]["MONITOR_CHAVE_ADMIN"]
        admins = {name: Api(ports[name], key) for name in SERVERS}

        def counts(server: str) -> dict[str, int]:
            listing = admins[server].get("/api/v1/medidores")
            return {m["id"]: m["resumo"]["leituras"] for m in listing.json["medidores"]} if listing.status == 200 else {}

        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and not all(counts("servidor-b").get(m, 0) > 1 for m in METERS):
            time.sleep(0.5)
        before = counts("servidor-b")
        assert all(before.get(m, 0) > 1 for m in METERS), (before, logs())

        processes["servidor-a"].kill()  # what `kill -9` or a dead machine does
        processes["servidor-a"].wait(20)
        deadline = time.monotonic() + READY_TIMEOUT_S
        after = before
        while time.monotonic() < deadline and not all(after[m] >= before[m] + AFTER_THE_KILL for m in METERS):
            time.sleep(0.5)
            after = counts("servidor-b")
        assert all(after[m] >= before[m] + AFTER_THE_KILL for m in METERS), (before, after, logs())
        for admin in admins.values():
            admin.close()
    finally:
        codes = stopped(processes)
    assert codes.pop("servidor-a") == -signal.SIGKILL
    assert all(code == 0 for code in codes.values()), (codes, logs())
