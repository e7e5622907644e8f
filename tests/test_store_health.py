"""A store that cannot write (full disk, no descriptors) answers 503 with Retry-After and nothing
stored, `/saude` says "degradado" with the reason, and both recover without a restart.

The store's typed errors and its `health()` are contract 4 between the store and the API; this
test drives the API with a readings store that fails on demand, because a real full disk cannot
be made here without root (the store's own tests fill a real one)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from servidor.app import readings_dir
from servidor.store.documents import DocumentStore
from servidor.store.errors import StorageFull
from servidor.store.readings import ReadingStore
from tests.conftest import start_server, stop_server

M = "/api/v1/medidores"
REASON = "disco cheio"


class FillingStore:
    """A real ReadingStore whose appends fail with StorageFull while `full` is set."""

    def __init__(self, store: ReadingStore) -> None:
        self._store = store
        self.full = False

    def append(self, meter_id: str, readings: Any, **options: Any) -> Any:
        if self.full:
            raise StorageFull(REASON)
        return self._store.append(meter_id, readings, **options)

    def append_later(self, meter_id: str, readings: Any, done: Any, **options: Any) -> None:
        if self.full:
            raise StorageFull(REASON)
        self._store.append_later(meter_id, readings, done, **options)

    def health(self) -> tuple[bool, str | None]:
        return (False, REASON) if self.full else (True, None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_full_disk_is_503_with_retry_after_then_recovers_without_restart(tmp_path: Path):
    db = tmp_path / "db.json"
    store = FillingStore(ReadingStore.open(readings_dir(db)))
    server = start_server(DocumentStore.open(db), store, db)
    try:
        write, read = server.create_meter("casa")
        agent, anyone = server.client(write), server.client()
        health = anyone.get("/api/v1/saude").json
        assert health["estado"] == "ok" and "motivo" not in health
        store.full = True
        reply = agent.post(f"{M}/casa/leituras", {"seq": 1, "ts": int(time.time() * 1000), "energia_wh": 1})
        assert reply.status == 503 and int(reply.headers["retry-after"]) > 0
        assert reply.json["erro"]["codigo"] == "armazenamento_indisponivel" and REASON in reply.json["erro"]["mensagem"]
        degraded = anyone.get("/api/v1/saude")
        assert degraded.status == 200
        assert degraded.json["estado"] == "degradado" and REASON in degraded.json["motivo"]
        assert server.client(read).get(f"{M}/casa").json["resumo"]["leituras"] == 0  # nothing stored
        store.full = False
        again = agent.post(f"{M}/casa/leituras", {"seq": 1, "ts": int(time.time() * 1000), "energia_wh": 1})
        assert again.status == 200 and again.json["aceitas"] == 1
        assert anyone.get("/api/v1/saude").json["estado"] == "ok"
    finally:
        stop_server(server)


def test_a_store_failure_without_a_health_check_degrades_saude_for_a_while(tmp_path: Path):
    db = tmp_path / "db.json"
    store = FillingStore(ReadingStore.open(readings_dir(db)))
    store.health = None  # a store that cannot tell its own health
    server = start_server(DocumentStore.open(db), store, db)
    try:
        write, _ = server.create_meter("casa")
        store.full = True
        server.client(write).post(f"{M}/casa/leituras", {"seq": 1, "ts": int(time.time() * 1000), "energia_wh": 1})
        health = server.client().get("/api/v1/saude").json
        assert health["estado"] == "degradado" and REASON in health["motivo"]
    finally:
        stop_server(server)


def test_the_open_health_answer_names_no_path(servidor_json):
    body = servidor_json.client().get("/api/v1/saude").body.decode()
    assert str(servidor_json.db_path.parent) not in body and "/tmp" not in body
    assert servidor_json.client().get("/api/v1/saude").json["armazenamento"]["documentos"] == "db.json"
