"""Fuzzing the JSON API with Hypothesis, in bounded time on every `make test` (issue 8).

schemathesis (tests/test_openapi.py) sends what the OpenAPI document describes and a little
outside it. This target sends what a hostile client would: for every route and method the router
serves, bodies of any JSON shape (400-digit integers, floats at the edges, lone surrogates, deep
nesting, the API's own field names with wrong values), bytes that are not JSON at all, and query
strings of any text, with the admin key, a meter's keys, a stranger's key or none. The request
goes through the real request path without sockets: raw bytes into the RequestParser, the real
App over durable stores in a temporary folder, the answer through the server's Encoder.

Whatever arrives, the answer is never a 5xx, an API error is the JSON envelope with a code and a
message, and afterwards the server still answers its health check and the meter's data. Inputs
that once gave a 500 are kept below as explicit examples.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from servidor.app import App, Settings, readings_dir
from servidor.net import Deferred
from servidor.net.exchange import Encoder
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from shared.http import Request
from shared.http.request_parser import RequestParser
from tests.conftest import ADMIN, REGISTRATION, TEST_KEY_COST

# Bounded time: a few seconds here. A longer hunt:
# FUZZ_EXEMPLOS=20000 .venv/bin/python -m pytest tests/test_api_fuzz.py
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXEMPLOS", 400)), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
HUGE = int("9" * 400)
NOW_MS = 1_790_000_000_000

# The API's own field names, so that generated objects reach the validators, not only "unknown field".
FIELDS = ("id", "nome", "categoria", "tarifa", "multiplicador", "limite_alerta_kwh", "silencio_s", "fuso",
          "dia_leitura", "ligacao", "webhook_url", "seq", "ts", "energia_wh", "potencia_w", "leituras",
          "comando", "valor", "chave", "mensagem", "tipo", "papel", "preco_kwh", "faixas", "postos",
          "vigencia", "bandeira", "mes", "valores", "icms", "pis", "cofins", "cip", "taxa_fixa", "TPF", "FRE")

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-2**70, max_value=2**70), st.just(HUGE), st.just(-HUGE),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0]),
    st.text(max_size=30), st.sampled_from(["\ud800", "a\udfffb", "2026-13-01", "1e999", "x" * 5000, "m1", "padrao"]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), inner, max_size=8),
    ),
    max_leaves=30,
)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(nested, st.integers(min_value=50, max_value=100_000)),
    st.sampled_from([b"", b"{", b'{"a":', b"\xff\xfe", b'"\\ud800"', b"NaN", b"[1e999]", b"{}" * 100,
                     b'{"energia_wh": 1' + b"0" * 5000 + b"}"]),
)


class Target:
    """The app over durable stores, two meters, and the keys a request may carry."""

    def __init__(self, folder: Path) -> None:
        db = folder / "db.json"
        self.app = App(DocumentStore.open(db), ReadingStore.open(readings_dir(db)),
                       Settings(admin_key=ADMIN, registration_key=REGISTRATION, key_cost=TEST_KEY_COST,
                                webhooks=False, legacy=True),
                       announce=lambda _: None)
        self.app.start()
        self.encoder = Encoder((("server", "monitor-energia"),))
        self.keys: dict[str, str | None] = {"admin": ADMIN, "nenhuma": None, "estranha": "x" * 40}
        for meter in ("m1", "m2"):
            created = self.call("POST", "/api/v1/medidores", ADMIN, json.dumps({"id": meter, "nome": meter}).encode())
            assert created[0] == 201, created
            self.keys[f"{meter}-escrita"] = json.loads(created[1])["chave_escrita"]
            self.keys[f"{meter}-leitura"] = json.loads(created[1])["chave_leitura"]
        stored = self.call("POST", "/api/v1/medidores/m1/leituras", self.keys["m1-escrita"],
                           json.dumps({"seq": 1, "ts": NOW_MS, "energia_wh": 1000}).encode())
        assert stored[0] in (200, 201), stored

    def call(self, method: str, target: str, key: str | None, body: bytes) -> tuple[int, bytes, str]:
        """Raw bytes in, (status, body, content type) out, through parser, app and encoder."""
        head = [f"{method} {target} HTTP/1.1", "Host: fuzz", f"Content-Length: {len(body)}",
                "Content-Type: application/json"]
        if key is not None:
            head.append(f"Authorization: Bearer {key}")
        parser = RequestParser()
        parser.receive(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        request = parser.next_event()
        if not isinstance(request, Request):  # the parser refused it: its own fuzz target covers that
            return 400, b"", ""
        answer = self.app.handle(request)
        if isinstance(answer, Deferred):  # a long poll parked: a valid outcome, never an error
            return 200, b"", ""
        assert self.encoder.encode(answer, request, keep_alive=True).startswith(b"HTTP/1.1 ")
        return answer.status, answer.body, answer.header("content-type") or ""

    def close(self) -> None:
        self.app.close()


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-api-"))
    made = Target(folder)
    yield made
    made.close()
    shutil.rmtree(folder, ignore_errors=True)


def operations(target: Target) -> list[tuple[str, str]]:
    """Every (method, path template) the router serves, except the two that would end the run's
    own setup: deleting m1 or rotating its keys (they are sent to m2 instead, see `fill`)."""
    return sorted((method, route.path) for route in target.app.router.routes() for method in route.methods)


def fill(method: str, template: str, value: str) -> str:
    """The template with its parameters filled: `{id}` is a real meter (m2 where the operation
    destroys something), the rest a fuzzed segment or a plausible one."""
    meter = "m2" if method == "DELETE" or template.endswith("/chaves") else "m1"
    parts = []
    for segment in template.split("/"):
        if segment == "{id}":
            parts.append(meter if not template.startswith("/{") else quote(value, safe="") or "x")
        elif segment.startswith("{"):
            parts.append(quote(value, safe="") or "x")
        else:
            parts.append(segment)
    return "/".join(parts)


def check(status: int, body: bytes, content_type: str, where: str) -> None:
    event(f"{status}")  # `pytest --hypothesis-show-statistics` shows how far requests got
    assert status < 500, f"{where}: {status} {body[:300]!r}"
    if status >= 400 and where.split(" ")[1].startswith("/api/") and body:
        assert content_type.startswith("application/json"), f"{where}: {content_type} {body[:200]!r}"
        error = json.loads(body)["erro"]
        assert error["codigo"] and error["mensagem"], f"{where}: {body[:200]!r}"


@FUZZ
@given(data=st.data(), document=documents, key=st.sampled_from(["admin", "m1-escrita", "m1-leitura", "nenhuma", "estranha"]))
def test_any_json_body_to_any_operation_is_answered_without_a_server_error(target, data, document, key):
    method, template = data.draw(st.sampled_from([op for op in operations(target) if op[0] in ("POST", "PUT")]))
    path = fill(method, template, data.draw(st.text(max_size=12)))
    body = json.dumps(document).encode()  # ensure_ascii: a lone surrogate travels as \ud800
    check(*target.call(method, path, target.keys[key], body), f"{method} {path} {body[:200]!r}")


@FUZZ
@given(data=st.data(), body=raw_bodies, key=st.sampled_from(["admin", "m1-escrita", "nenhuma"]))
@example(data=None, body=nested(100_000), key="nenhuma").via("legacy POST nested 100k levels gave 500")
def test_bytes_that_are_not_json_are_refused_with_a_reason(target, data, body, key):
    if data is None:  # the kept regression case: the keyless legacy POST
        method, template = "POST", "/{id}"
    else:
        method, template = data.draw(st.sampled_from([op for op in operations(target) if op[0] in ("POST", "PUT")]))
    path = fill(method, template, "fuzz")
    check(*target.call(method, path, target.keys[key], body), f"{method} {path} {body[:80]!r}")


query_values = st.one_of(st.text(max_size=20), st.integers().map(str), st.just(str(HUGE)),
                         st.sampled_from(["2026-02-30", "hora", "dia", "mes", "15min", "-1", "9999", "\ud800", "1e309"]))
QUERY_NAMES = ("de", "ate", "intervalo", "limite", "pagina", "apos", "espera_s", "ciclo", "formato", "mes", "estado")


@FUZZ
@given(data=st.data(), params=st.dictionaries(st.sampled_from(QUERY_NAMES), query_values, max_size=4),
       key=st.sampled_from(["admin", "m1-leitura", "nenhuma"]))
def test_any_query_string_to_any_read_is_answered_without_a_server_error(target, data, params, key):
    method, template = data.draw(st.sampled_from([op for op in operations(target) if op[0] in ("GET", "DELETE")]))
    path = fill(method, template, data.draw(st.text(max_size=12)))
    query = "&".join(f"{quote(k)}={quote(v, safe='', errors='surrogatepass')}" for k, v in params.items())
    where = f"{method} {path}?{query}"
    check(*target.call(method, path + ("?" + query if query else ""), target.keys[key], b""), where)


def test_after_the_fuzzing_the_server_still_serves_its_meter(target):
    """Run last in this module: whatever was sent, m1 answers and its first reading is still there."""
    status, body, _ = target.call("GET", "/api/v1/saude", None, b"")
    assert status == 200 and json.loads(body)["estado"] in ("ok", "degradado"), body
    status, body, _ = target.call("GET", "/api/v1/medidores/m1/leituras?limite=5", target.keys["m1-leitura"], b"")
    assert status == 200, body
    assert any(r.get("energia_wh") == 1000 for r in json.loads(body)["leituras"]), body
