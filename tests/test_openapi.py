"""The OpenAPI document against the live server: schemathesis over every operation, and the router
against the document (every route described, nothing described that is not served)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import hypothesis
import jsonschema_rs
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from servidor.api import live as live_routes
from servidor.api import openapi
from servidor.api.openapi import blocks
from servidor.api.router import Router
from servidor.app import VERSION, App, Settings, readings_dir
from servidor.domain import live
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from tests.conftest import ADMIN, Running, start_server, stop_server

DOC = "/api/v1/openapi.json"
# The long poll waits up to 55 s by design. The test narrows the bound the handler enforces, and
# the document (built from the same constant) narrows with it, so generated waits stay short
# while a wait beyond the bound is still a 422 that negative_data_rejection can check.
TEST_MAX_WAIT_S = 0.05
HOUR_MS = 3_600_000

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    ignored_auth,
    unsupported_method,
    allow_header_conformance,
]
# A batch of readings is stored even when some of its readings are refused (they come back in
# `rejeitadas` with a 200): an agent must not lose a day of readings to one bad sample. A
# negative reading inside a batch is therefore accepted on purpose, so this operation is not
# held to "negative data → 4xx".
PARTIAL_ACCEPTANCE = {"POST /api/v1/medidores/{id}/leituras"}


def _seed(running: Running) -> None:
    """What the document's examples name, so the example phase reaches real data."""
    admin = running.admin
    flat = {"vigencia": "1970-01-01", "energia": {"tipo": "unico", "preco": 0.78}}
    for tariff in ({"id": blocks.EXAMPLE_TARIFF, "nome": "Residencial", "versoes": [flat]},
                   {"id": "tarifa-descartada", "nome": "Para apagar",
                    "versoes": [flat, {**flat, "vigencia": "2026-01-01"}]}):
        assert admin.post("/api/v1/tarifas", tariff).status == 201
    # A low monthly limit, so the readings below raise limite_excedido and answers carry alerts.
    running.create_meter(blocks.EXAMPLE_METER, tarifa=blocks.EXAMPLE_TARIFF, limite_alerta_kwh=5)
    running.create_meter("medidor-descartado")
    now = int(time.time() * 1000)
    hours = [{"seq": n, "ts": now - (48 - n) * HOUR_MS, "energia_wh": 400.0 * n, "potencia_w": 400.0,
              "TPF": [127.0, 126.5, 128.1]} for n in range(48)]
    reply = admin.post(f"/api/v1/medidores/{blocks.EXAMPLE_METER}/leituras", {"leituras": hours})
    assert reply.status == 200 and reply.json["aceitas"] == 48, reply.body
    alert = {"tipo": "falha_dispositivo", "mensagem": "Modbus sem resposta", "chave": "modbus"}
    assert admin.post(f"/api/v1/medidores/{blocks.EXAMPLE_METER}/alertas", alert).status == 201


@pytest.fixture
def api_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(live, "MAX_WAIT_S", TEST_MAX_WAIT_S)
    monkeypatch.setattr(live_routes, "DEFAULT_WAIT_S", TEST_MAX_WAIT_S)
    db_path = tmp_path / "db.json"
    running = start_server(DocumentStore.open(db_path), ReadingStore.open(readings_dir(db_path)), db_path)
    try:
        _seed(running)
        config = schemathesis.Config.from_dict({
            # Every request as admin: otherwise 401s would mask what the operations answer.
            # ignored_auth still sends each protected operation without the key and with a wrong one.
            "headers": {"Authorization": f"Bearer {ADMIN}"},
            # Fixed seed (and derandomize below): the same cases on every run and every machine.
            "seed": 20261122,
            # Valid and invalid data: negative cases are what negative_data_rejection judges.
            "generation": {"mode": "all"},
        })
        yield schemathesis.openapi.from_url(f"http://127.0.0.1:{running.port}{DOC}", config=config)
    finally:
        stop_server(running)


# The 004 routes (`/{id}`, deprecated) are excluded: their contract is 004's wire format (a body
# that ends when the meter closes, the connection closed after every answer, any JSON object
# stored as it came), which tests/test_legacy.py checks byte for byte over raw sockets; requests
# from an HTTP library cannot exercise the framing that matters there. `GET /` stays: the browser
# page and 004's list share it, and both are ordinary HTTP.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(deprecated=True)


# max_examples bounds the fuzzing phase; the coverage phase (boundaries, each constraint broken
# once, undeclared methods) adds a fixed ~1400 cases; the whole run takes 15-25 s here.
@pytest.mark.slow
@hypothesis.settings(max_examples=12, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@schema.parametrize()
def test_the_server_answers_as_documented(case: Any) -> None:
    excluded = [negative_data_rejection] if case.operation.label in PARTIAL_ACCEPTANCE else []
    case.call_and_validate(checks=CHECKS, excluded_checks=excluded, timeout=10)


# --- the document against the router ------------------------------------------------------------

def _served(running: Running) -> dict[str, Any]:
    reply = running.client().get(DOC)  # no key: the document is open
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("application/json")
    return reply.json


def test_every_registered_route_is_documented_and_every_documented_one_is_registered(servidor_json):
    doc = _served(servidor_json)
    routes = servidor_json.app.router.routes()
    assert doc == openapi.document(routes, version=VERSION)
    # operationId is the handler's name, so this also catches a route pointed at another handler.
    registered = {(route.path, method.lower()): handler.__name__
                  for route in routes for method, handler in route.methods.items()}
    documented = {(path, method): op["operationId"] for path, ops in doc["paths"].items() for method, op in ops.items()}
    assert documented == registered
    assert {("/metrics", "get"), ("/", "get"), ("/{id}", "get"), ("/{id}", "post"), ("/{id}", "put"),
            ("/{id}", "delete")} <= set(documented)
    assert all(op["deprecated"] for op in doc["paths"]["/{id}"].values())
    assert [p for p in doc["paths"]["/"]["get"]["parameters"] if p["name"] == "id"][0]["deprecated"]
    open_routes = {(path, method) for path, ops in doc["paths"].items() for method, op in ops.items()
                   if op["security"] == []}
    # blipserver's data routes read a meter that is not public only with a key (servidor/api/blip.py).
    blip_data = {(path, method) for path, method in documented if path.startswith("/") and "/{id}" in path
                 and path.split("/")[1] in ("blip", "last", "since", "aggregate", "aggregate_hourly", "hourly", "usage")}
    # Tesla Analyzer's central routes (/ws/v2/…) need a node key.
    outside = {(path, method) for path, method in documented if not path.startswith(("/api/", "/ws/"))} - blip_data
    assert open_routes == outside | {("/api/v1/saude", "get"), ("/api/v1/openapi.json", "get")}


def _router_of(app: App) -> Router:
    copy = Router()
    for route in app.router.routes():
        copy.add(route.path, legacy=route.legacy, **route.methods)
    return copy


def test_a_route_without_a_description_or_a_description_without_a_route_stops_the_document(tmp_path: Path):
    app = App(DocumentStore.in_memory(), ReadingStore.open(tmp_path / "leituras"), Settings(), announce=lambda _: None)
    try:
        extra = _router_of(app)
        extra.add("/api/v1/nova-rota", GET=lambda call: None)
        with pytest.raises(openapi.UndocumentedRoute, match="nova-rota"):
            openapi.document(extra.routes(), version=VERSION)
        fewer = Router()
        for route in app.router.routes():
            if route.path != "/api/v1/tarifas":
                fewer.add(route.path, legacy=route.legacy, **route.methods)
        with pytest.raises(openapi.UndocumentedRoute, match="tarifas"):
            openapi.document(fewer.routes(), version=VERSION)
        changed = Router()
        for route in app.router.routes():
            methods = dict(route.methods)
            if route.path == "/api/v1/saude":
                methods["POST"] = methods["GET"]
            changed.add(route.path, legacy=route.legacy, **methods)
        with pytest.raises(openapi.UndocumentedRoute, match="saude"):
            openapi.document(changed.routes(), version=VERSION)
    finally:
        app.close()


def test_the_legacy_methods_documented_are_the_ones_legacy_answers(servidor_json):
    meter = "/5f0c8a52-3b1e-4d6f-9a57-2c1e8b7d4a10"
    client = servidor_json.client()
    assert client.post(meter, {"consumo_atual_kWh": 1}).status == 200
    assert client.put(meter, {"consumo_atual_kWh": 2}).status == 200
    assert client.get(meter).json == {meter[1:]: {"consumo_atual_kWh": 2}}
    assert client.get(f"/?id={meter[1:]}").status == 200
    assert client.delete(meter).status == 204
    assert client.call("PATCH", meter).status == 405


def test_without_the_legacy_routes_the_document_leaves_them_out(tmp_path: Path):
    db_path = tmp_path / "db.json"
    running = start_server(DocumentStore.open(db_path), ReadingStore.open(readings_dir(db_path)), db_path,
                           legacy=False)
    try:
        doc = _served(running)
    finally:
        stop_server(running)
    assert doc == openapi.document(running.app.router.routes(), version=VERSION)
    assert "/{id}" not in doc["paths"]
    assert list(doc["paths"]["/"]["get"]["responses"]["200"]["content"]) == ["text/html"]
    assert "Legado 004" not in {tag["name"] for tag in doc["tags"]}


# --- the document as OpenAPI 3.1 -----------------------------------------------------------------

def _walk(node: Any, path: str = "#") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A 2020-12 validator for one schema of the document; its `#/components/...` refs resolve
    because the components travel in the same root."""
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "allOf": [schema],
            "components": doc["components"]}
    return jsonschema_rs.validator_for(root, validate_formats=True)


def test_the_document_is_valid_openapi_3_1(servidor_json):
    doc = openapi.document(servidor_json.app.router.routes(), version=VERSION)
    # schemathesis checks the document against the OpenAPI 3.1 schema (and refuses to load a broken one).
    schemathesis.openapi.from_dict(json.loads(json.dumps(doc))).validate()
    assert doc["openapi"].startswith("3.1.")
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for where, node in _walk(doc):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            _resolve(doc, node["$ref"])  # KeyError names a dangling reference
    for name, schema in doc["components"]["schemas"].items():
        jsonschema_rs.meta.validate(schema)


def test_every_example_in_the_document_matches_its_schema(servidor_json):
    doc = openapi.document(servidor_json.app.router.routes(), version=VERSION)
    checked = 0
    for where, node in _walk(doc["paths"]):
        if not isinstance(node, dict) or "schema" not in node:
            continue
        examples = [node["example"]] if "example" in node else []
        examples += [e["value"] for e in node.get("examples", {}).values() if isinstance(e, dict) and "value" in e]
        for example in examples:
            errors = [e.message for e in _validator(doc, node["schema"]).iter_errors(example)]
            assert not errors, (where, example, errors)
            checked += 1
    assert checked > 20
