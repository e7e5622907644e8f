"""A meter's life in one step each: created with its keys, deleted with its keys, alerts, invoices,
commands and readings; an id used again starts empty even while the old agent keeps posting."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from servidor.app import readings_dir
from servidor.store.documents import AtomicJSONStorage, DocumentStore
from servidor.store.readings import ReadingStore
from tests.conftest import ADMIN, Api, start_server, stop_server

M = "/api/v1/medidores"


def now_ms() -> int:
    return int(time.time() * 1000)


def reopen(running, db: Path):
    stop_server(running)
    return start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db)


def test_an_id_deleted_while_its_agent_posts_comes_back_empty(servidor_json):
    server = servidor_json
    old_write, _ = server.create_meter("casa")
    stop = threading.Event()
    posted = [0]
    answers: list[int] = []

    def old_agent() -> None:
        agent = Api(server.port, old_write)
        seq = 0
        while not stop.is_set():
            seq += 1
            reply = agent.post(f"{M}/casa/leituras", {"seq": seq, "ts": now_ms() - 60_000, "energia_wh": seq})
            answers.append(reply.status)
            posted[0] += reply.status == 200

    thread = threading.Thread(target=old_agent)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while posted[0] < 20 and time.monotonic() < deadline:  # the old agent is under way
            time.sleep(0.01)
        assert server.admin.delete(f"{M}/casa").status == 204
        new_write, new_read = server.create_meter("casa")
        # The old agent goes on posting, with its revoked key, against the new meter.
        refused = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and refused < 20:
            refused = sum(1 for status in list(answers) if status == 401)
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
    assert 401 in answers  # its key died with the meter
    owner = Api(server.port, new_read)
    assert owner.get(f"{M}/casa").json["resumo"]["leituras"] == 0
    assert owner.get(f"{M}/casa/leituras").json["leituras"] == []
    new = Api(server.port, new_write).post(f"{M}/casa/leituras", {"seq": 1, "ts": now_ms(), "energia_wh": 7})
    assert new.json == {**new.json, "aceitas": 1, "ultimo_seq": 1}
    assert [r["seq"] for r in owner.get(f"{M}/casa/leituras").json["leituras"]] == [1]


def test_after_a_restart_the_old_incarnation_stays_gone(tmp_path: Path):
    db = tmp_path / "db.json"
    server = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db)
    old_write, _ = server.create_meter("casa")
    Api(server.port, old_write).post(f"{M}/casa/leituras", {"seq": 5, "ts": now_ms() - 1000, "energia_wh": 1})
    assert server.admin.delete(f"{M}/casa").status == 204
    new_write, new_read = server.create_meter("casa")
    server = reopen(server, db)
    try:
        assert Api(server.port, old_write).get(f"{M}/casa").status == 401
        assert Api(server.port, new_read).get(f"{M}/casa").json["resumo"]["leituras"] == 0
        assert server.admin.delete(f"{M}/casa").status == 204
        _, third_read = server.create_meter("casa")  # a third incarnation, after a restart
        assert Api(server.port, third_read).get(f"{M}/casa/leituras").json["leituras"] == []
    finally:
        stop_server(server)


class _FailingWrites:
    """AtomicJSONStorage.write failing on demand: a full disk, or a kill between two writes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fail = False
        self.writes = 0
        original = AtomicJSONStorage.write

        def write(storage, data):
            self.writes += 1
            if self.fail:
                raise OSError(28, "No space left on device")
            return original(storage, data)

        monkeypatch.setattr(AtomicJSONStorage, "write", write)


def test_creating_a_meter_is_one_write_and_a_failed_one_leaves_nothing_behind(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch):
    db = tmp_path / "db.json"
    writes = _FailingWrites(monkeypatch)
    server = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db)
    try:
        before = writes.writes
        server.create_meter("um")
        assert writes.writes == before + 1  # the meter and both keys, together
        writes.fail = True
        assert server.admin.post(M, {"id": "dois", "nome": "Dois"}).status >= 500
        writes.fail = False
        server = reopen(server, db)
        assert server.admin.get(f"{M}/dois").status == 404
        server.create_meter("dois")  # not a 409 forever: nothing of the failed attempt remained
    finally:
        stop_server(server)


def test_deleting_a_meter_is_one_write_and_a_failed_one_keeps_the_meter_and_its_keys(tmp_path: Path,
                                                                                      monkeypatch: pytest.MonkeyPatch):
    db = tmp_path / "db.json"
    writes = _FailingWrites(monkeypatch)
    server = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db)
    try:
        write, read = server.create_meter("casa", limite_alerta_kwh=1)
        agent = Api(server.port, write)
        agent.post(f"{M}/casa/leituras", {"leituras": [{"seq": 1, "ts": now_ms() - 2000, "energia_wh": 0},
                                                       {"seq": 2, "ts": now_ms() - 1000, "energia_wh": 5000}]})
        Api(server.port, read).post(f"{M}/casa/comandos", {"comando": "pausar"})
        writes.fail = True
        assert server.admin.delete(f"{M}/casa").status >= 500
        writes.fail = False
        server = reopen(server, db)
        assert Api(server.port, read).get(f"{M}/casa").json["resumo"]["leituras"] == 2
        before = writes.writes
        assert server.admin.delete(f"{M}/casa").status == 204
        assert writes.writes == before + 1  # meter, keys, alerts, invoices and commands together
        server = reopen(server, db)
        assert Api(server.port, write).get(f"{M}/casa").status == 401
        text = db.read_text()
        assert '"casa"' not in text.replace('"id":"casa","proxima":1', "")  # only its generation remains
    finally:
        stop_server(server)


def test_the_admin_key_survives_everything_above(servidor_json):
    assert Api(servidor_json.port, ADMIN).get(M).status == 200


def test_retired_streams_send_their_ids_next_incarnation_past_them():
    from servidor.domain.keys import KeyRing
    from servidor.domain.registry import MeterRegistry, retire_streams

    docs = DocumentStore.in_memory()
    retire_streams(docs, ["casa", "casa~3", "loja~1", "escola"])
    registry = MeterRegistry(docs, KeyRing(docs), "America/Sao_Paulo")
    streams = {registry.create({"id": i})[0].stream for i in ("casa", "loja", "escola", "novo")}
    assert streams == {"casa~4", "loja~2", "escola~1", "novo"}
