"""What the CLI checks before opening the stores (issue 8, finding 10): a documents file that is
missing or empty next to readings is a lost db.json, not a fresh install."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.models import Reading
from servidor.store.documents import DocumentStore
from servidor.store.layout import Documents, Readings, inspect
from servidor.store.readings import ReadingStore
from servidor.store.repair import repair


def readings_with_data(directory: Path) -> None:
    with ReadingStore.open(directory, durable=False) as store:
        store.append("m", [Reading(1, 1_700_000_000_000, 1.0)])


def test_a_fresh_install_has_neither(tmp_path):
    facts = inspect(tmp_path / "db.json", tmp_path / "db.leituras")
    assert (facts.documents, facts.readings) == (Documents.MISSING, Readings.MISSING)
    assert facts.problem() is None


def test_a_readings_directory_without_a_reading_is_empty(tmp_path):
    ReadingStore.open(tmp_path / "db.leituras", durable=False).close()
    assert inspect(tmp_path / "db.json", tmp_path / "db.leituras").readings is Readings.EMPTY


@pytest.mark.parametrize("content, state", [
    (None, Documents.MISSING), ("", Documents.EMPTY), ("  \n", Documents.EMPTY), ("{}", Documents.EMPTY),
    (json.dumps({"meta": {"1": {"versao_formato": 1}}, "medidores": {}}), Documents.EMPTY),
    (json.dumps({"meta": {"1": {"versao_formato": 1}}, "chaves": {"1": {"hash": "h"}}}), Documents.PRESENT),
    ("{não é json", Documents.PRESENT),  # unreadable: DocumentStore.open says why
])
def test_documents_missing_or_empty_next_to_readings_is_a_problem_naming_the_ways_out(tmp_path, content, state):
    db = tmp_path / "db.json"
    if content is not None:
        db.write_text(content)
    readings_with_data(tmp_path / "db.leituras")
    facts = inspect(db, tmp_path / "db.leituras")
    assert (facts.documents, facts.readings) == (state, Readings.PRESENT)
    if state is Documents.PRESENT:
        assert facts.problem() is None
    else:
        problem = facts.problem()
        assert f"db.json está {state.value}" in problem and "backup" in problem
        assert f"servidor reparar --db {db}" in problem


def test_only_deleted_streams_still_count_as_readings(tmp_path):
    with ReadingStore.open(tmp_path / "db.leituras", durable=False) as store:
        store.delete_meter("m")
    assert inspect(tmp_path / "db.json", tmp_path / "db.leituras").readings is Readings.PRESENT


def test_repair_sets_orphaned_readings_aside_so_the_server_starts_empty(tmp_path):
    db = tmp_path / "db.json"
    readings_with_data(tmp_path / "db.leituras")
    report = repair(db, tmp_path / "db.leituras", durable=False)
    [aside] = [p for p in tmp_path.iterdir() if p.name.startswith("db.leituras.orfas-")]
    assert aside.name in report.text() and not (tmp_path / "db.leituras").exists()
    with ReadingStore.open(aside, durable=False) as store:
        assert store.count("m") == 1  # nothing was deleted
    DocumentStore.open(db).close()
    assert inspect(db, tmp_path / "db.leituras").problem() is None
