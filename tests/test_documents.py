"""The TinyDB wrapper: safe across threads, atomic rewrites, clear errors for bad files."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from servidor.store.documents import AtomicJSONStorage, DocumentStore, StoreTooNew, StoreUnreadable


@pytest.fixture(params=["json", "memoria"])
def docs(request, tmp_path: Path):
    store = DocumentStore.open(tmp_path / "db.json") if request.param == "json" else DocumentStore.in_memory()
    yield store
    store.close()


def test_four_threads_inserting_lose_nothing_and_leave_valid_json(tmp_path: Path):
    # DOMAIN.md §4: plain TinyDB corrupted its file with four inserting threads in 2 of 2 runs.
    docs = DocumentStore.open(tmp_path / "db.json")

    def insert(worker: int) -> None:
        for i in range(50):
            docs.upsert("alertas", "id", {"id": f"{worker}-{i}", "n": i})

    threads = [threading.Thread(target=insert, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(docs.all("alertas")) == 200
    on_disk = json.loads((tmp_path / "db.json").read_text())
    assert len(on_disk["alertas"]) == 200


def test_upsert_replaces_by_key_and_delete_removes(docs):
    docs.upsert("medidores", "id", {"id": "a", "nome": "A"})
    docs.upsert("medidores", "id", {"id": "a", "nome": "B"})
    assert docs.all("medidores") == [{"id": "a", "nome": "B"}]
    assert docs.get("medidores", "id", "a") == {"id": "a", "nome": "B"}
    assert docs.delete("medidores", "id", "a") == 1
    assert docs.get("medidores", "id", "a") is None


def test_a_failed_write_leaves_file_and_memory_unchanged(tmp_path: Path, monkeypatch):
    docs = DocumentStore.open(tmp_path / "db.json")
    docs.upsert("t", "id", {"id": 1})
    before = (tmp_path / "db.json").read_text()

    def full_disk(*_args, **_kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)  # the disk filling up is not something a test can cause safely
    with pytest.raises(OSError):
        docs.upsert("t", "id", {"id": 2})
    monkeypatch.undo()
    assert (tmp_path / "db.json").read_text() == before
    assert docs.all("t") == [{"id": 1}]


def test_rewrite_goes_through_a_temp_file_and_replace(tmp_path: Path, monkeypatch):
    storage = AtomicJSONStorage(tmp_path / "db.json")
    replaced = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append((Path(a).name, Path(b).name)), real(a, b)))
    storage.write({"x": {"1": {"a": 1}}})
    assert len(replaced) == 1
    temp, final = replaced[0]
    assert final == "db.json" and temp.startswith(".db.json.") and temp.endswith(".tmp")
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"]  # no temp file left behind
    assert storage.read() == {"x": {"1": {"a": 1}}}


def test_truncated_file_is_reported_not_overwritten(tmp_path: Path):
    path = tmp_path / "db.json"
    path.write_text('{"medidores": {"1": {"id": "a"')
    with pytest.raises(StoreUnreadable, match="JSON"):
        DocumentStore.open(path)
    assert path.read_text() == '{"medidores": {"1": {"id": "a"'


def test_newer_format_is_refused(tmp_path: Path):
    path = tmp_path / "db.json"
    path.write_text(json.dumps({"meta": {"1": {"versao_formato": 2}}}))
    with pytest.raises(StoreTooNew, match="mais nova"):
        DocumentStore.open(path)


def test_missing_folder_is_unreadable(tmp_path: Path):
    with pytest.raises(StoreUnreadable, match="pasta"):
        DocumentStore.open(tmp_path / "nao" / "existe" / "db.json")
