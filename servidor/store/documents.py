"""TinyDB, made safe for a threaded server: one lock, and every rewrite atomic and durable.

TinyDB is not thread-safe and rewrites its whole file on each write (DOMAIN.md §4): fine for
meters, tariffs, alerts and invoices, which change rarely; readings live in the journal instead.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, TypeVar

from shared.durable import write_atomic
from tinydb import TinyDB
from tinydb.storages import MemoryStorage, Storage

# Version of the document layout. A store written by a newer server is refused, not misread.
FORMAT_VERSION = 1

T = TypeVar("T")


class DocumentStoreError(Exception):
    """The document store cannot be used; the message says why and what to do."""


class StoreUnreadable(DocumentStoreError):
    pass


class StoreTooNew(DocumentStoreError):
    pass


class AtomicJSONStorage(Storage):
    """TinyDB storage that writes temp file → fsync → os.replace → fsync(dir).

    A crash at any moment leaves either the old or the new file, never a truncated one.
    Reads are served from the last committed text, so a failed write leaves memory unchanged.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._text: str | None = None
        if self.path.exists():
            try:
                self._text = self.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise StoreUnreadable(f"não foi possível ler {self.path}: {exc}") from exc
            if not self._text.strip():
                self._text = None
            else:
                try:
                    json.loads(self._text)
                except json.JSONDecodeError as exc:
                    raise StoreUnreadable(
                        f"{self.path} não é JSON válido (linha {exc.lineno}, coluna {exc.colno}): "
                        "restaure um backup ou aponte --db para outro arquivo"
                    ) from exc

    def read(self) -> dict[str, Any] | None:
        return None if self._text is None else json.loads(self._text)

    def write(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        write_atomic(self.path, text.encode("utf-8"))
        self._text = text

    def close(self) -> None:
        pass


class DocumentStore:
    """A TinyDB behind one re-entrant lock. All access goes through `transaction`."""

    def __init__(self, db: TinyDB, path: Path | None) -> None:
        self._db = db
        self._lock = threading.RLock()
        self.path = path
        self._check_version()

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> "DocumentStore":
        path = Path(path)
        if path.parent and not path.parent.exists():
            raise StoreUnreadable(f"a pasta de {path} não existe")
        try:
            db = TinyDB(path, storage=AtomicJSONStorage)
        except ValueError as exc:  # TinyDB's complaint about a structurally wrong file
            raise StoreUnreadable(f"{path} não é um banco TinyDB: {exc}") from exc
        return cls(db, path)

    @classmethod
    def in_memory(cls) -> "DocumentStore":
        return cls(TinyDB(storage=MemoryStorage), None)

    def _check_version(self) -> None:
        meta = self._db.table("meta")
        try:
            docs = meta.all()
        except (AttributeError, TypeError) as exc:
            raise StoreUnreadable(f"estrutura inesperada no banco: {exc}") from exc
        version = docs[0].get("versao_formato", 0) if docs else None
        if version is None:
            meta.insert({"versao_formato": FORMAT_VERSION})
        elif not isinstance(version, int) or version > FORMAT_VERSION:
            raise StoreTooNew(
                f"o banco foi gravado por uma versão mais nova do servidor (formato {version}, "
                f"este entende até {FORMAT_VERSION}): atualize o monitor-energia"
            )

    def transaction(self, work: Callable[[TinyDB], T]) -> T:
        """Run `work(db)` holding the lock: reads and writes inside see one consistent store."""
        with self._lock:
            return work(self._db)

    def all(self, table: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(doc) for doc in self._db.table(table).all()]

    def get(self, table: str, key: str, value: Any) -> dict[str, Any] | None:
        with self._lock:
            for doc in self._db.table(table).all():
                if doc.get(key) == value:
                    return dict(doc)
            return None

    def upsert(self, table: str, key: str, doc: dict[str, Any]) -> None:
        """Insert `doc`, or replace the document whose `key` equals doc[key]."""
        with self._lock:
            tbl = self._db.table(table)
            ids = [d.doc_id for d in tbl.all() if d.get(key) == doc[key]]
            if ids:
                if len(ids) > 1:
                    tbl.remove(doc_ids=ids[1:])
                tbl.update(_replace_with(doc), doc_ids=ids[:1])
            else:
                tbl.insert(doc)

    def delete(self, table: str, key: str, value: Any) -> int:
        with self._lock:
            tbl = self._db.table(table)
            ids = [d.doc_id for d in tbl.all() if d.get(key) == value]
            if ids:
                tbl.remove(doc_ids=ids)
            return len(ids)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _replace_with(doc: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def transform(current: dict[str, Any]) -> None:
        current.clear()
        current.update(doc)

    return transform
