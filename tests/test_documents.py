"""The TinyDB wrapper: safe across threads, one atomic rewrite per change (also a change that
spans tables, issue 8 finding 8), clear errors for bad files."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tinydb import where

from servidor.store.documents import AtomicJSONStorage, DocumentStore, StoreTooNew, StoreUnreadable

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["json", "memoria"])
def docs(request, tmp_path: Path):
    store = DocumentStore.open(tmp_path / "db.json") if request.param == "json" else DocumentStore.in_memory()
    yield store
    store.close()


def test_four_threads_inserting_lose_nothing_and_leave_valid_json(tmp_path: Path):
    # Measured on TinyDB 4.9 before this store existed: plain TinyDB corrupted its file with four inserting threads in 2 of 2 runs.
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


def create_meter(meter_id: str):
    def work(db):
        db.table("medidores").insert({"id": meter_id})
        db.table("chaves").insert_multiple([{"medidor": meter_id, "papel": "escrita"},
                                            {"medidor": meter_id, "papel": "leitura"}])
    return work


def delete_meter(meter_id: str):
    def work(db):
        db.table("medidores").remove(where("id") == meter_id)
        db.table("chaves").remove(where("medidor") == meter_id)
    return work


def test_a_change_across_tables_is_one_rewrite(tmp_path: Path, monkeypatch):
    docs = DocumentStore.open(tmp_path / "db.json")
    replaced = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append(b), real(a, b)))
    docs.transaction(create_meter("a"))
    assert len(replaced) == 1
    docs.transaction(delete_meter("a"))
    assert len(replaced) == 2
    on_disk = json.loads((tmp_path / "db.json").read_text())
    assert on_disk["medidores"] == {} and on_disk["chaves"] == {}


def test_a_transaction_that_raises_leaves_file_and_memory_as_they_were(docs):
    docs.transaction(create_meter("a"))
    before = None if docs.path is None else docs.path.read_bytes()

    def half_then_fail(db):
        db.table("medidores").remove(where("id") == "a")
        assert db.table("medidores").search(where("id") == "a") == []
        raise RuntimeError("falhou no meio")

    with pytest.raises(RuntimeError):
        docs.transaction(half_then_fail)
    assert [d["id"] for d in docs.all("medidores")] == ["a"] and len(docs.all("chaves")) == 2
    assert docs.transaction(lambda db: db.table("medidores").search(where("id") == "a")) == [{"id": "a"}]
    if before is not None:
        assert docs.path.read_bytes() == before


def test_an_inner_transaction_that_raises_is_undone_alone(docs):
    def outer(db):
        db.table("medidores").insert({"id": "fica"})
        with pytest.raises(KeyError):
            docs.transaction(lambda inner: (inner.table("medidores").insert({"id": "sai"}), {}["x"]))
        db.table("chaves").insert({"medidor": "fica"})

    docs.transaction(outer)
    assert [d["id"] for d in docs.all("medidores")] == ["fica"] and len(docs.all("chaves")) == 1


# The child creates and deletes meters, each with its two keys in one transaction, forever.
CHILD = """
import sys
from pathlib import Path
from tinydb import where
from servidor.store.documents import DocumentStore
docs = DocumentStore.open(Path(sys.argv[1]))
n = max((int(d["id"][1:]) for d in docs.all("medidores")), default=0)
print("pronto", flush=True)
while True:
    n += 1
    meter = f"m{n}"
    def create(db):
        db.table("medidores").insert({"id": meter})
        db.table("chaves").insert_multiple([{"medidor": meter, "papel": "escrita"},
                                            {"medidor": meter, "papel": "leitura"}])
    docs.transaction(create)
    if n % 3 == 0:
        old = f"m{n - 1}"
        docs.transaction(lambda db: (db.table("medidores").remove(where("id") == old),
                                     db.table("chaves").remove(where("medidor") == old)))
"""


@pytest.mark.slow
def test_kill_at_random_moments_never_leaves_a_meter_without_its_keys_or_keys_without_their_meter(tmp_path: Path):
    rng = random.Random(8)
    path = tmp_path / "db.json"
    for _ in range(8):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, cwd=ROOT,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            assert child.stdout.readline() == b"pronto\n"
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close()
        docs = DocumentStore.open(path)  # a whole file: it parses
        meters = {d["id"] for d in docs.all("medidores")}
        keys = [d["medidor"] for d in docs.all("chaves")]
        assert meters and set(keys) == meters and all(keys.count(m) == 2 for m in meters)
        docs.close()
