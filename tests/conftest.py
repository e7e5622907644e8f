"""Shared fixtures: a real server (App + HttpServer) on port 0 over real stores in a temp dir."""
from __future__ import annotations

import http.client
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, settings

# These machines are shared and noisy (2 cores): a per-example deadline measures the neighbours,
# not our code. Speed is measured in bench/, not in tests.
settings.register_profile("monitor", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("monitor")

from servidor.app import App, Settings, readings_dir
from servidor.net import HttpServer
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore

ADMIN = "chave-admin-de-teste"
REGISTRATION = "chave-registro-de-teste"
TEST_KEY_COST = 2**4


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """A thin http.client wrapper: one keep-alive connection, JSON in and out."""

    def __init__(self, port: int, key: str | None = None) -> None:
        self.port = port
        self.key = key
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)

    def as_key(self, key: str | None) -> "Api":
        return Api(self.port, key)

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             raw: bytes | None = None) -> Reply:
        hdrs = dict(headers or {})
        if self.key is not None:
            hdrs.setdefault("Authorization", f"Bearer {self.key}")
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        payload = resp.read()
        reply = Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload)
        if resp.will_close:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        return reply

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.call("DELETE", path, **kw)

    def close(self) -> None:
        self.conn.close()


@dataclass
class Running:
    app: App
    server: HttpServer
    port: int
    admin: Api
    db_path: Path | None

    def client(self, key: str | None = None) -> Api:
        return Api(self.port, key)

    def create_meter(self, meter_id: str, **fields: Any) -> tuple[str, str]:
        """Create a meter as admin; returns (write key, read key)."""
        reply = self.admin.post("/api/v1/medidores", {"id": meter_id, "nome": fields.pop("nome", meter_id), **fields})
        assert reply.status == 201, reply.body
        return reply.json["chave_escrita"], reply.json["chave_leitura"]


def start_server(docs: DocumentStore, store: ReadingStore, db_path: Path | None, **settings: Any) -> Running:
    settings.setdefault("admin_key", ADMIN)
    settings.setdefault("registration_key", REGISTRATION)
    # scrypt's cost for the admin and registration keys, lowered: each server a test starts would
    # otherwise spend ~130 ms deriving them (tests/test_keys.py checks the real cost).
    settings.setdefault("key_cost", TEST_KEY_COST)
    # A fuzzed webhook_url (schemathesis) must never be called: tests/test_webhooks.py turns it on.
    settings.setdefault("webhooks", False)
    app = App(docs, store, Settings(**settings), announce=lambda _: None)
    server = app.listen(workers=8)
    server.start()
    app.start()
    port = server.address[1]
    return Running(app, server, port, Api(port, ADMIN), db_path)


def stop_server(running: Running) -> None:
    running.admin.close()
    running.server.shutdown()
    running.app.close()


@pytest.fixture(params=["json", "memoria"])
def servidor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    """The server over a JSON document store and over TinyDB's memory storage (TinyDB's habit)."""
    if request.param == "json":
        db_path = tmp_path / "db.json"
        docs = DocumentStore.open(db_path)
    else:
        db_path = None
        docs = DocumentStore.in_memory()
    store = ReadingStore.open(readings_dir(tmp_path / "db.json"))
    running = start_server(docs, store, db_path)
    yield running
    stop_server(running)


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Running]:
    """The server over a fresh copy of db.json.example (the demo's meters, tariffs and keys)."""
    db = tmp_path / "db.json"
    shutil.copyfile(Path(__file__).resolve().parent.parent / "db.json.example", db)
    running = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db)
    yield running
    stop_server(running)


@pytest.fixture
def servidor_json(tmp_path: Path) -> Iterator[Running]:
    """One server over the JSON store, for tests that need only one storage."""
    db_path = tmp_path / "db.json"
    running = start_server(DocumentStore.open(db_path), ReadingStore.open(readings_dir(db_path)), db_path)
    yield running
    stop_server(running)


_SESSION_START = time.time()


def pytest_terminal_summary(terminalreporter) -> None:
    """Name the browser page's screenshot in the run's output (CI keeps the output)."""
    shot = Path(__file__).resolve().parent.parent / "test-artifacts" / "painel.png"
    if shot.exists() and shot.stat().st_mtime >= _SESSION_START:
        terminalreporter.write_line(f"captura da página no Chromium: {shot} ({shot.stat().st_size} bytes)")
