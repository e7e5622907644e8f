"""The server's layers import downwards only, and no module imports itself back round a cycle.

shared ← servidor.billing ← servidor.store ← servidor.domain ← servidor.api; servidor.net
imports only shared.http; app.py and cli.py wire everything (README.md, "Arquitetura do
servidor"). Read from the source with `ast`, so the rule holds for every module, imported by a
test or not."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVIDOR = ROOT / "servidor"
# layer → the packages its modules may import (besides the standard library and third parties)
ALLOWED = {
    "servidor.billing": ("shared", "servidor.billing"),
    "servidor.store": ("shared", "servidor.billing", "servidor.store"),
    "servidor.domain": ("shared", "servidor.billing", "servidor.store", "servidor.domain"),
    # The API may park a long poll as the network layer's Deferred, and nothing else of it.
    "servidor.api": ("shared", "servidor.billing", "servidor.store.errors", "servidor.store.readings.StreamDeleted",
                     "servidor.domain", "servidor.api", "servidor.net.Deferred"),
    "servidor.net": ("shared.http", "servidor.net"),
    # Alerts sent out (webhooks): knows HTTP clients and the shared backoff, not the domain.
    "servidor.notify": ("shared", "servidor.notify"),
    # Home Assistant over MQTT: reads the domain's services, publishes to a broker (paho).
    "servidor.mqtt": ("shared", "servidor.domain", "servidor.mqtt"),
}
FORBIDDEN_IN_DOMAIN = ("shared.http", "servidor.net", "servidor.api")
WIRING = {"servidor.app", "servidor.cli", "servidor.keys_cli", "servidor.data_cli", "servidor.backup_cli", "servidor.migrate_cli", "servidor.migrate_report", "servidor.demo_guard", "servidor.healthcheck", "servidor.__main__", "servidor.example", "servidor.logs"}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Names imported at module level (not under `if TYPE_CHECKING:`), as `pkg.mod` or `pkg.mod.Name`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith(("shared", "servidor"))}


def layer_of(name: str) -> str | None:
    return next((layer for layer in ALLOWED if name == layer or name.startswith(layer + ".")), None)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in SERVIDOR.rglob("*.py")}


def test_every_layer_imports_only_the_layers_below_it():
    wrong = []
    for name, path in modules().items():
        layer = layer_of(name)
        if layer is None:
            assert name in WIRING or name == "servidor" or name.startswith("servidor.web"), f"{name}: no layer"
            continue
        for imported in imports_of(path):
            if not any(imported == ok or imported.startswith(ok + ".") for ok in ALLOWED[layer]):
                wrong.append(f"{name} imports {imported}")
    assert wrong == []


def test_the_domain_knows_no_http():
    for name, path in modules().items():
        if name.startswith("servidor.domain"):
            assert not [i for i in imports_of(path) if i.startswith(FORBIDDEN_IN_DOMAIN)], name


def test_no_import_cycle_between_modules():
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        for imported in imports_of(path):
            while imported and imported not in known:  # `pkg.mod.Name` → `pkg.mod`
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)  # a package's own __init__ is not a cycle with its modules
        graph[name] = targets
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for child in graph[node]:
            if state.get(child) == 1:
                cycles.append(" → ".join(trail[trail.index(child):] + [child]))
            elif child not in state:
                visit(child, trail + [child])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_module_of_the_project_is_over_400_lines():
    """One idea per module, in every package (the server's, the agent's, the app's, the drivers'
    and the shared one): a module past 400 lines holds more than one."""
    packages = ("shared", "servidor", "medidor", "usuario", "drivers", "demo")
    long = [f"{path.relative_to(ROOT)}: {len(path.read_text().splitlines())}"
            for package in packages for path in (ROOT / package).rglob("*.py")
            if len(path.read_text().splitlines()) > MAX_LINES]
    assert long == []
