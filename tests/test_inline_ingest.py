"""An agent's reading is handled in the network layer's own thread and answered once it is on
disk, with no thread waiting for the fsync: a slow disk delays that agent's answer, never the
other clients, and a failed fsync is answered 503, never 200."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from servidor.app import readings_dir
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from servidor.store.readings import journal as journal_module
from tests.conftest import Running, start_server, stop_server

M = "/api/v1/medidores"


@pytest.fixture
def gate(monkeypatch) -> Iterator[dict]:
    """The journal's fdatasync held until the test opens the gate (a disk slow on demand: a real
    one cannot be made so here), or failing with `error` when it is set."""
    state: dict = {"open": threading.Event(), "entered": threading.Event(), "error": None}
    real = journal_module._datasync

    def datasync(fd: int) -> None:
        state["entered"].set()
        state["open"].wait(30)
        if state["error"] is not None:
            raise state["error"]
        real(fd)

    monkeypatch.setattr(journal_module, "_datasync", datasync)
    yield state
    state["open"].set()


@pytest.fixture
def running(tmp_path: Path, gate) -> Iterator[Running]:
    db = tmp_path / "db.json"
    gate["open"].set()  # creating the meter writes the documents and opens the journal
    r = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db)
    yield r
    gate["open"].set()
    stop_server(r)


def post_in_background(running: Running, key: str, seq: int) -> tuple[threading.Thread, dict]:
    answer: dict = {}

    def post() -> None:
        client = running.client(key)
        try:
            reply = client.post(f"{M}/casa/leituras", {"seq": seq, "ts": int(time.time() * 1000), "energia_wh": seq})
            answer.update(status=reply.status, body=reply.json, at=time.monotonic())
        finally:
            client.close()

    thread = threading.Thread(target=post)
    thread.start()
    return thread, answer


def test_the_answer_waits_for_the_disk_and_other_clients_do_not(running: Running, gate):
    write, read = running.create_meter("casa")
    gate["open"].clear()
    gate["entered"].clear()
    thread, answer = post_in_background(running, write, 1)
    assert gate["entered"].wait(10)                       # its fsync has begun, and is held
    # Meanwhile the server answers everyone else: health, reads, other meters' keys refused.
    assert running.client().get("/api/v1/saude").status == 200
    assert running.client(read).get(f"{M}/casa").status == 200
    assert not answer                                     # not told before the reading is on disk
    opened = time.monotonic()
    gate["open"].set()
    thread.join(10)
    assert answer["status"] == 200 and answer["body"]["aceitas"] == 1 and answer["at"] >= opened
    assert running.client(read).get(f"{M}/casa/leituras").json["total"] == 1


def test_a_failed_fsync_is_answered_503_and_the_reading_is_taken_when_sent_again(running: Running, gate):
    write, read = running.create_meter("casa")
    gate["open"].clear()
    gate["error"] = OSError(5, "Input/output error")
    thread, answer = post_in_background(running, write, 1)
    assert gate["entered"].wait(10)
    gate["open"].set()
    thread.join(10)
    assert answer["status"] == 503, answer
    gate["error"] = None
    reply = running.client(write).post(f"{M}/casa/leituras", {"seq": 1, "ts": int(time.time() * 1000), "energia_wh": 1})
    assert reply.status == 200
    assert running.client(read).get(f"{M}/casa/leituras").json["total"] == 1
