"""TinyDB, made safe for a threaded server: one lock, and every change one atomic, durable rewrite.

TinyDB is not thread-safe and rewrites its whole file on each write: fine for meters, tariffs,
alerts and invoices, which change rarely; readings live in the journal instead. Each TinyDB
write inside `transaction` only replaces the text held in memory; the file is rewritten once,
when the transaction ends, so a change that spans tables (a meter and its keys) reaches the
disk whole or not at all. A transaction that raises, or whose rewrite fails (full disk,
kill -9), leaves the old file and the old memory.
"""
from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from shared.durable import write_atomic
from tinydb import TinyDB
from tinydb.storages import MemoryStorage, Storage
from tinydb.table import Table

from .errors import StoreError, storage_error
from .health import Health
from .tables import Tables

# Version of the document layout. A store written by a newer server is refused, not misread.
FORMAT_VERSION = 1

WHAT = "o banco de documentos"

T = TypeVar("T")


class DocumentStoreError(StoreError):
    """The document store cannot be used; the message says why and what to do."""


class StoreUnreadable(DocumentStoreError):
    pass


class StoreTooNew(DocumentStoreError):
    pass


class AtomicJSONStorage(Storage):
    """TinyDB storage that writes temp file → fsync → os.replace → fsync(dir), or only memory
    when `path` is None. Between `begin()` and `end()` writes stay in memory until the
    outermost `end`, which writes once.

    Reads are served from the last committed text (or the transaction's own), so a failed
    write leaves memory unchanged. Not locked: DocumentStore serialises every call."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = None if path is None else Path(path)
        self._text: str | None = None
        self._pending: str | None = None
        # The pending text at the start of each open transaction level: a savepoint.
        self._saved: list[str | None] = []
        if self.path is not None and self.path.exists():
            try:
                self._text = self.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise StoreUnreadable(f"não foi possível ler {self.path.name}", str(exc)) from exc
            if not self._text.strip():
                self._text = None
            else:
                try:
                    json.loads(self._text)
                except json.JSONDecodeError as exc:
                    raise StoreUnreadable(
                        f"{self.path.name} não é JSON válido (linha {exc.lineno}, coluna {exc.colno}): "
                        "restaure um backup (`servidor restaurar PASTA_DO_BACKUP --db ...`, com o servidor parado) "
                        "ou aponte --db para outro arquivo"
                    ) from exc

    def read(self) -> dict[str, Any] | None:
        # A fresh object each time: TinyDB mutates what it reads before writing it back, and a
        # change that fails half-way must not reach the text.
        text = self._pending if self._pending is not None else self._text
        return None if text is None else json.loads(text)

    def write(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if self._saved:
            self._pending = text
        else:
            self._commit(text)

    def _commit(self, text: str) -> None:
        if self.path is not None:
            try:
                write_atomic(self.path, text.encode("utf-8"))
            except OSError as exc:
                raise storage_error(exc, WHAT) from exc
        self._text = text

    def begin(self) -> None:
        self._saved.append(self._pending)

    def end(self, commit: bool) -> bool:
        """Leave a transaction level: keep its writes (`commit`) or undo them, and at the
        outermost level write what was kept. Returns whether the file was written; StoreError
        if that write failed, and then it is undone too."""
        saved = self._saved.pop()
        if not commit:
            self._pending = saved
        if self._saved:
            return False
        pending, self._pending = self._pending, None
        if pending is None:
            return False
        self._commit(pending)
        return True

    @property
    def committed_text(self) -> str | None:
        return self._text

    def rewrite(self) -> None:
        """Write the committed text again (the health probe: exactly what a change needs)."""
        if self._text is not None:
            self._commit(self._text)

    def close(self) -> None:
        pass


class _UncachedTable(Table):
    """TinyDB caches query results per table; after an undone transaction they would describe
    writes that no longer exist. The tables are small, and mostly read through `all()`."""

    def __init__(self, storage: Storage, name: str, cache_size: int = 0, persist_empty: bool = False) -> None:
        super().__init__(storage, name, cache_size=0, persist_empty=persist_empty)


class _TinyDB(TinyDB):
    table_class = _UncachedTable


class DocumentStore:
    """A TinyDB behind one re-entrant lock. All access goes through `transaction`."""

    # One process owns the file: what this process holds in memory is the whole truth.
    shared = False

    def __init__(self, storage: AtomicJSONStorage) -> None:
        self._storage = storage
        # TinyDB builds its storage from a factory; ours exists already.
        self._db = _TinyDB(storage=lambda: storage)
        self._lock = threading.RLock()
        self.path = storage.path
        self._health = Health(self._probe)
        self._check_version()

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> "DocumentStore":
        path = Path(path)
        if path.parent and not path.parent.exists():
            raise StoreUnreadable(f"a pasta de {path.name} não existe", str(path.parent))
        try:
            return cls(AtomicJSONStorage(path))
        except ValueError as exc:  # TinyDB's complaint about a structurally wrong file
            raise StoreUnreadable(f"{path.name} não é um banco TinyDB", str(exc)) from exc

    @classmethod
    def in_memory(cls) -> "DocumentStore":
        return cls(AtomicJSONStorage(None))

    def _check_version(self) -> None:
        meta = self._db.table("meta")
        try:
            docs = meta.all()
        except (AttributeError, TypeError) as exc:
            raise StoreUnreadable("estrutura inesperada no banco", str(exc)) from exc
        version = docs[0].get("versao_formato", 0) if docs else None
        if version is None:
            self.transaction(lambda db: db.table("meta").insert({"versao_formato": FORMAT_VERSION}))
        elif not isinstance(version, int) or version > FORMAT_VERSION:
            raise StoreTooNew(
                f"o banco foi gravado por uma versão mais nova do servidor (formato {version}, "
                f"este entende até {FORMAT_VERSION}): atualize o monitor-energia"
            )

    def transaction(self, work: Callable[[TinyDB], T]) -> T:
        """Run `work(db)` holding the lock, as one atomic change: every table it writes reaches
        the file in one rewrite when it returns. If it raises, or the rewrite fails
        (StorageFull / StorageUnavailable), nothing it did remains, on disk or in memory.
        Transactions nest: an inner one that raises is undone alone, the outermost one writes."""
        with self._lock:
            self._storage.begin()
            try:
                result = work(self._db)
            except BaseException:
                self._end(commit=False)
                raise
            self._end(commit=True)
            return result

    def _end(self, commit: bool) -> None:
        # An undone insert may leave TinyDB's next document id one ahead: ids skip, never repeat.
        try:
            wrote = self._storage.end(commit)
        except StoreError as error:
            self._health.failed(error)
            raise
        if wrote and self._health.fault is not None:
            self._health.succeeded()

    def atomic(self, change: Callable[[Tables], T]) -> T:
        """Run `change(tables)` under the lock and write what it changed in one rewrite. If it
        raises, or the write fails (a full disk), nothing is written and the store keeps what it had."""
        def run(db: TinyDB) -> T:
            raw = db.storage.read() or {}
            if isinstance(db.storage, MemoryStorage):
                raw = copy.deepcopy(raw)  # memory storage hands out its live dict
            tables = Tables(raw)
            result = change(tables)
            if tables.changed:
                db.storage.write(raw)
                # TinyDB's Table objects cache the next document id and query results; written
                # around them, they must be rebuilt (TinyDB 4.x, pinned below 5 in pyproject.toml;
                # tests/test_atomic.py fails if that changes).
                db._tables.clear()
            return result

        return self.transaction(run)

    def table_names(self) -> list[str]:
        with self._lock:
            return sorted(self._db.tables())

    def all(self, table: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(doc) for doc in self._db.table(table).all()]

    def get(self, table: str, key: str, value: Any) -> dict[str, Any] | None:
        with self._lock:
            for doc in self._db.table(table).all():
                if doc.get(key) == value:
                    return dict(doc)
            return None

    def matching(self, table: str, key: str, value: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(doc) for doc in self._db.table(table).all() if doc.get(key) == value]

    def pop(self, table: str, key: str, value: Any) -> list[dict[str, Any]]:
        """Remove and return the documents whose `key` equals `value`, in one write."""
        def change(tables: Tables) -> list[dict[str, Any]]:
            found = [dict(doc) for doc in tables.matching(table, key, value)]
            tables.remove(table, key, value)
            return found

        return self.atomic(change)

    def upsert(self, table: str, key: str, doc: dict[str, Any]) -> None:
        """Insert `doc`, or replace the document whose `key` equals doc[key]."""
        def work(db: TinyDB) -> None:
            tbl = db.table(table)
            ids = [d.doc_id for d in tbl.all() if d.get(key) == doc[key]]
            if ids:
                if len(ids) > 1:
                    tbl.remove(doc_ids=ids[1:])
                tbl.update(_replace_with(doc), doc_ids=ids[:1])
            else:
                tbl.insert(doc)

        self.transaction(work)

    def delete(self, table: str, key: str, value: Any) -> int:
        def work(db: TinyDB) -> int:
            tbl = db.table(table)
            ids = [d.doc_id for d in tbl.all() if d.get(key) == value]
            if ids:
                tbl.remove(doc_ids=ids)
            return len(ids)

        return self.transaction(work)

    def frozen(self, work: Callable[[str | None], T]) -> T:
        """Run `work(text)` with the committed file text (None: empty store) while no change can
        happen: a backup reads the other stores inside it, so the copies share one instant."""
        with self._lock:
            return work(self._storage.committed_text)

    def iter_table(self, table: str) -> Iterator[dict[str, Any]]:
        return iter(self.all(table))

    def health(self) -> tuple[bool, str | None]:
        """(True, None), or (False, why in pt-BR) while changes cannot be written (full disk,
        no descriptors); a probe notices when they can again."""
        return self._health.health()

    def _probe(self) -> None:
        with self._lock:
            self._storage.rewrite()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _replace_with(doc: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def transform(current: dict[str, Any]) -> None:
        current.clear()
        current.update(doc)

    return transform
