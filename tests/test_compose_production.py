"""docker-compose.yml is a deployment, not a demo (issue 14 #4): keys from the user's .env and
never the demo's, published on loopback unless asked, 004's open routes off, a health check on
the port the server really uses, a build context without local state, and images that carry
only their program's libraries. No Docker engine runs here: the compose file is interpolated as
Docker Compose would, and the server's service runs locally with the resulting environment."""
from __future__ import annotations

import ast
import fnmatch
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import Api
from tests.ports import reserved_port
from tests.server_process import READY

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
VARIABLE = re.compile(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}` (an empty value counts as unset)."""
    def one(match: re.Match[str]) -> str:
        name, how, rest = match.groups()
        if env.get(name):
            return env[name]
        if how == ":?":
            raise MissingVariable(rest)
        return rest or ""

    return VARIABLE.sub(one, value)


def production() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def dot_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def service_env(name: str, env: dict[str, str]) -> dict[str, str]:
    return {k: interpolate(str(v), env) for k, v in production()["services"][name]["environment"].items()}


def test_the_keys_must_come_from_the_users_env_file():
    for name in ("servidor", "medidor"):
        with pytest.raises(MissingVariable, match=r"\.env"):
            service_env(name, {})
    example = dot_env(ROOT / ".env.example")
    server = service_env("servidor", example)
    assert server["MONITOR_CHAVE_ADMIN"] == example["MONITOR_CHAVE_ADMIN"]
    assert "demo" not in server["MONITOR_CHAVE_ADMIN"] + server["MONITOR_CHAVE_REGISTRO"]
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_ports_are_published_on_loopback_and_legacy_routes_are_off_by_default():
    keys = {"MONITOR_CHAVE_ADMIN": "a" * 32, "MONITOR_CHAVE_REGISTRO": "r" * 32}
    for name, spec in production()["services"].items():
        for port in spec.get("ports", []):
            assert interpolate(port, keys).startswith("127.0.0.1:"), (name, port)
    assert service_env("servidor", keys)["MONITOR_SEM_LEGADO"] == "1"
    assert production()["services"]["servidor"]["ports"] == ["${MONITOR_PUBLICAR:-127.0.0.1}:"
                                                            "${MONITOR_PORTA:-5000}:${MONITOR_PORTA:-5000}"]
    demo = yaml.safe_load((ROOT / "docker-compose.demo.yml").read_text())
    assert all(p.startswith("127.0.0.1:") for s in demo["services"].values() for p in s.get("ports", []))


def _start(env: dict[str, str], tmp_path: Path) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    full.update(env)
    full["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen([sys.executable, "-m", "servidor"], env=full, cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_the_server_service_runs_on_another_port_healthy_with_legacy_closed(tmp_path: Path):
    with reserved_port() as port:
        env = {**dot_env(ROOT / ".env.example"), "MONITOR_PORTA": str(port)}
        container = {**service_env("servidor", env), "MONITOR_HOST": "127.0.0.1",
                     "MONITOR_DB": str(tmp_path / "db.json")}
        server = _start(container, tmp_path)
        try:
            for line in server.stdout:
                if READY.search(line):
                    break
            # The image's HEALTHCHECK, run with the container's environment.
            health = subprocess.run([sys.executable, "-m", "servidor.healthcheck"], env={**os.environ, **container},
                                    timeout=30)
            assert health.returncode == 0
            api = Api(port)
            assert api.post("/abc", {"consumo_atual_kWh": 1}).status == 404  # 004's open POST is off
            admin = Api(port, env["MONITOR_CHAVE_ADMIN"])
            assert admin.get("/api/v1/medidores").status == 200
        finally:
            server.terminate()
            assert server.wait(20) == 0
        stopped = subprocess.run([sys.executable, "-m", "servidor.healthcheck"], env={**os.environ, **container},
                                 timeout=30)
        assert stopped.returncode == 1
    assert "HEALTHCHECK" in (ROOT / "Dockerfile.servidor").read_text()
    assert "servidor.healthcheck" in (ROOT / "Dockerfile.servidor").read_text()


def test_the_demo_keys_are_refused_unless_it_is_a_demo(tmp_path: Path):
    env = {"MONITOR_CHAVE_ADMIN": "demo-admin", "MONITOR_CHAVE_REGISTRO": "demo-registro", "MONITOR_PORTA": "0",
           "MONITOR_DB": str(tmp_path / "db.json")}
    refused = _start(env, tmp_path)
    out, _ = refused.communicate(timeout=30)
    assert refused.returncode == 2
    assert "demonstração" in out and "MONITOR_DEMO=1" in out and "demo-admin" in out
    assert not (tmp_path / "db.json").exists() or "demo" not in (tmp_path / "db.json").read_text()
    accepted = _start({**env, "MONITOR_DEMO": "1"}, tmp_path)
    try:
        assert READY.search(accepted.stdout.readline() + accepted.stdout.readline())
    finally:
        accepted.terminate()
        accepted.wait(20)


def test_the_build_context_leaves_out_local_state_and_secrets():
    patterns = [p for p in (ROOT / ".dockerignore").read_text().split() if not p.startswith("#")]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p.lstrip("/")) or fnmatch.fnmatch(path.split("/")[0], p.lstrip("/"))
                   for p in patterns)

    for path in (".venv", ".git", "demo-data/medidores/casa/estado.json", "estado-medidor/casa-1/estado.json",
                 "db.json", "db.leituras", "db.pedidos", ".env", "servidor/__pycache__"):
        assert ignored(path) or ignored(path.rstrip("/") + "/x"), path
    for needed in ("pyproject.toml", "README.md", "constraints.txt", "servidor", "shared", "medidor", "drivers"):
        assert not ignored(needed), needed


PROGRAMS = {"servidor": ("servidor", "shared"), "medidor": ("medidor", "drivers", "shared"),
            "usuario": ("usuario", "shared")}
# The module each distribution of pyproject.toml installs.
MODULES = {"tinydb": "tinydb", "holidays": "holidays", "tzdata": "tzdata", "pymodbus": "pymodbus",
           "pyserial": "serial", "textual": "textual", "textual-plotext": "textual_plotext", "plotext": "plotext",
           "rich": "rich", "scikit-learn": "sklearn", "numpy": "numpy", "paho-mqtt": "paho",
           "psycopg": "psycopg", "psycopg-pool": "psycopg_pool"}
LOCAL = {"servidor", "shared", "medidor", "drivers", "usuario", "demo", "tests"}


def _third_party_imports(packages: tuple[str, ...]) -> set[str]:
    found = set()
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
                found.update(n.split(".")[0] for n in names)
    return found - set(sys.stdlib_module_names) - LOCAL - {"__future__"}


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_each_program_needs_only_its_own_group_and_its_image_installs_only_that(program: str):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"][program]
    provided = {MODULES[re.match(r"[\w-]+", r).group()] for r in requirements}
    assert _third_party_imports(PROGRAMS[program]) <= provided
    dockerfile = ROOT / f"Dockerfile.{program}"
    if dockerfile.exists():
        text = dockerfile.read_text()
        assert f"'.[{program}]'" in text
        copied = set(re.findall(r"^COPY (\w+) ", text, re.M))
        assert copied == set(PROGRAMS[program]), copied
