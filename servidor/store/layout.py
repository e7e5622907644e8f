"""What lies on disk for one server, looked at before either store is opened: the documents
file and the readings directory beside it.

A documents file that is missing or empty next to readings is not a fresh install: it is a
lost or truncated db.json. Starting anyway would create a new db.json in which a meter
registered with an old id shows the old meter's readings, so the CLI refuses (exit 4) and
names the ways out: restore the backup, or `servidor reparar`, which sets the readings aside.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .readings.codec import HEADER_SIZE
from .readings.deleted import DELETED_NAME
from .readings.errors import REPAIR_COMMAND
from .readings.files import scan


class Documents(Enum):
    MISSING = "ausente"
    EMPTY = "vazio"  # blank, or JSON without any document beyond the format mark
    PRESENT = "presente"  # holds documents, or is unreadable (DocumentStore.open says why)


class Readings(Enum):
    MISSING = "ausente"  # no directory
    EMPTY = "vazio"  # a directory without readings or deleted streams
    PRESENT = "com dados"


@dataclass(frozen=True, slots=True)
class StoreFacts:
    documents_path: Path
    readings_path: Path
    documents: Documents
    readings: Readings

    @property
    def orphaned_readings(self) -> bool:
        """Readings on disk while the documents that give them meaning are gone."""
        return self.documents is not Documents.PRESENT and self.readings is Readings.PRESENT

    def problem(self) -> str | None:
        """The pt-BR refusal for a server that must not start on these files, or None."""
        if not self.orphaned_readings:
            return None
        db, readings = self.documents_path, self.readings_path
        return (f"o banco {db.name} está {self.documents.value}, mas {readings.name}/ ao lado guarda leituras: "
                f"começar do zero faria um medidor novo com um id antigo mostrar leituras antigas. Restaure um "
                f"backup (`servidor restaurar PASTA_DO_BACKUP --db {db}`), ou execute `{REPAIR_COMMAND} --db {db}` "
                "para guardar as leituras de lado "
                "(nada é apagado) e começar do zero")


def documents_state(path: Path) -> Documents:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Documents.MISSING
    except (OSError, UnicodeDecodeError):
        return Documents.PRESENT
    if not text.strip():
        return Documents.EMPTY
    try:
        tables = json.loads(text)
    except json.JSONDecodeError:
        return Documents.PRESENT
    if isinstance(tables, dict) and not any(docs for name, docs in tables.items() if name != "meta"):
        return Documents.EMPTY
    return Documents.PRESENT


def readings_state(directory: Path) -> Readings:
    if not directory.is_dir():
        return Readings.MISSING
    journals, segments = scan(directory)
    if segments or (directory / DELETED_NAME).exists():
        return Readings.PRESENT
    for path in journals.values():
        try:
            if os.stat(path).st_size > HEADER_SIZE:
                return Readings.PRESENT
        except FileNotFoundError:
            continue
    return Readings.EMPTY


def inspect(documents_path: Path, readings_path: Path) -> StoreFacts:
    """The facts about `documents_path` (db.json) and `readings_path` (its readings directory)."""
    return StoreFacts(documents_path, readings_path, documents_state(documents_path), readings_state(readings_path))
