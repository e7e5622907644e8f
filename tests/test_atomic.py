"""One change to several tables written at once: all or nothing, over the JSON file and memory,
and TinyDB's own operations keep working after it (its cached document ids are dropped)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from servidor.domain.atomic import atomic
from servidor.store.documents import AtomicJSONStorage, DocumentStore


@pytest.fixture(params=["json", "memoria"])
def docs(request: pytest.FixtureRequest, tmp_path: Path):
    store = DocumentStore.open(tmp_path / "db.json") if request.param == "json" else DocumentStore.in_memory()
    yield store
    store.close()


def test_a_change_to_two_tables_is_one_write(docs, monkeypatch: pytest.MonkeyPatch):
    writes = []
    if docs.path is not None:
        original = AtomicJSONStorage.write
        monkeypatch.setattr(AtomicJSONStorage, "write", lambda s, data: (writes.append(1), original(s, data))[1])

    def change(tables) -> None:
        tables.insert("medidores", {"id": "a"})
        tables.insert("chaves", {"id_chave": "k1", "medidor": "a"})
        tables.insert("chaves", {"id_chave": "k2", "medidor": "a"})

    atomic(docs, change)
    assert [d["id_chave"] for d in docs.all("chaves")] == ["k1", "k2"] and docs.all("medidores") == [{"id": "a"}]
    if docs.path is not None:
        assert writes == [1]
        assert set(json.loads(docs.path.read_text())["chaves"]) == {"1", "2"}


def test_a_change_that_raises_leaves_everything_as_it_was(docs):
    docs.upsert("medidores", "id", {"id": "antes"})

    def change(tables) -> None:
        tables.insert("medidores", {"id": "meio"})
        tables.remove("medidores", "id", "antes")
        raise ValueError("no meio do caminho")

    with pytest.raises(ValueError):
        atomic(docs, change)
    assert docs.all("medidores") == [{"id": "antes"}]


def test_a_failing_write_leaves_file_and_memory_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    docs = DocumentStore.open(tmp_path / "db.json")
    docs.upsert("medidores", "id", {"id": "antes"})
    text = (tmp_path / "db.json").read_text()

    def full(storage, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(AtomicJSONStorage, "write", full)
    with pytest.raises(OSError):
        atomic(docs, lambda tables: tables.insert("medidores", {"id": "depois"}))
    monkeypatch.undo()
    assert docs.all("medidores") == [{"id": "antes"}]
    assert (tmp_path / "db.json").read_text() == text
    docs.close()


def test_tinydb_inserts_after_an_atomic_change_take_fresh_ids(docs):
    docs.upsert("medidores", "id", {"id": "a"})  # TinyDB now caches its next id
    atomic(docs, lambda tables: tables.insert("medidores", {"id": "b"}))
    docs.upsert("medidores", "id", {"id": "c"})  # would collide with b's id if the cache stayed
    assert sorted(d["id"] for d in docs.all("medidores")) == ["a", "b", "c"]


def test_a_change_that_changes_nothing_writes_nothing(tmp_path: Path):
    docs = DocumentStore.open(tmp_path / "db.json")
    before = (tmp_path / "db.json").stat().st_mtime_ns if (tmp_path / "db.json").exists() else None
    assert atomic(docs, lambda tables: tables.remove("medidores", "id", "ninguem")) == 0
    after = (tmp_path / "db.json").stat().st_mtime_ns if (tmp_path / "db.json").exists() else None
    assert before == after
    docs.close()
