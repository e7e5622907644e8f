"""db.json.example opens as is, with its meters, tariffs, known keys and history."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from servidor import example
from servidor.app import readings_dir
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from tests.conftest import start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_example_is_what_the_generator_builds():
    assert json.loads((ROOT / "db.json.example").read_text()) == json.loads(json.dumps(example.build()))


def test_example_store_serves_history_and_invoices_with_the_published_keys(tmp_path: Path):
    db = tmp_path / "db.json"
    shutil.copyfile(ROOT / "db.json.example", db)
    running = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db)
    try:
        read_key, _ = example.DEMO_KEYS["casa-silva"]
        owner = running.client(read_key)
        meter = owner.get("/api/v1/medidores/casa-silva").json
        assert meter["resumo"]["leituras"] == example.DAYS * 24
        days = owner.get("/api/v1/medidores/casa-silva/consumo?intervalo=dia&de=2026-10-01&ate=2026-10-31").json
        assert len(days["consumo"]) == 31 and all(d["kwh"] > 0 for d in days["consumo"])
        assert all(d["cobertura"] == pytest.approx(1.0) for d in days["consumo"])
        invoice = owner.get("/api/v1/medidores/casa-silva/faturas/2026-10").json
        assert invoice["tarifa"] == "residencial" and invoice["total"] > 0
        assert owner.get("/api/v1/medidores/padaria-sol").status == 403
    finally:
        stop_server(running)
    # The seed table moved into the journal: a restart does not import it twice.
    assert "leituras_iniciais" not in json.loads(db.read_text())
