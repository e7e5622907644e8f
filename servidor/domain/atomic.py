"""One change to several tables of the document store, written to disk once.

TinyDB rewrites the whole file for every table operation, so "insert the meter, then its keys" is
two writes, and a crash (or a full disk) between them leaves half a change behind. `atomic` runs
the change on the tables as plain dicts and writes the result with one storage write: the
document store's file is replaced whole (temp file, fsync, rename), so after a crash either all of
the change is there or none of it.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, TypeVar

from tinydb import TinyDB
from tinydb.storages import MemoryStorage

from servidor.store.documents import DocumentStore

T = TypeVar("T")


class Tables:
    """The store's tables as `{table: {doc_id: doc}}` dicts, for the length of one change."""

    def __init__(self, raw: dict[str, dict[str, dict[str, Any]]]) -> None:
        self._raw = raw
        self.changed = False

    def rows(self, table: str) -> list[dict[str, Any]]:
        return list(self._raw.get(table, {}).values())

    def find(self, table: str, key: str, value: Any) -> dict[str, Any] | None:
        return next((doc for doc in self._raw.get(table, {}).values() if doc.get(key) == value), None)

    def insert(self, table: str, doc: dict[str, Any]) -> None:
        rows = self._raw.setdefault(table, {})
        next_id = max((int(i) for i in rows), default=0) + 1
        rows[str(next_id)] = dict(doc)
        self.changed = True

    def remove(self, table: str, key: str, value: Any) -> int:
        rows = self._raw.get(table, {})
        doomed = [doc_id for doc_id, doc in rows.items() if doc.get(key) == value]
        for doc_id in doomed:
            del rows[doc_id]
        self.changed = self.changed or bool(doomed)
        return len(doomed)

    def remove_table(self, table: str) -> None:
        if self._raw.pop(table, None) is not None:
            self.changed = True

    def upsert(self, table: str, key: str, doc: dict[str, Any]) -> None:
        rows = self._raw.setdefault(table, {})
        for doc_id, current in rows.items():
            if current.get(key) == doc[key]:
                rows[doc_id] = dict(doc)
                self.changed = True
                return
        self.insert(table, doc)


def atomic(docs: DocumentStore, change: Callable[[Tables], T]) -> T:
    """Run `change(tables)` under the store's lock and write what it changed at once.

    If `change` raises, or the write fails (a full disk), nothing is written and the store keeps
    what it had."""
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

    return docs.transaction(run)
