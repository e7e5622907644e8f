"""The document tables as plain dicts for the length of one atomic change (the embedded store's
side of `DocumentsBackend.atomic`): `{table: {doc_id: doc}}`, read whole, written back whole."""
from __future__ import annotations

from typing import Any


class Tables:
    """The store's tables as `{table: {doc_id: doc}}` dicts, for the length of one change."""

    def __init__(self, raw: dict[str, dict[str, dict[str, Any]]]) -> None:
        self._raw = raw
        self.changed = False
        # The next document id of each table inserted into: finding it by max() on every insert
        # made copying a whole table (`servidor migrar`) quadratic.
        self._next: dict[str, int] = {}

    def rows(self, table: str) -> list[dict[str, Any]]:
        return list(self._raw.get(table, {}).values())

    def find(self, table: str, key: str, value: Any) -> dict[str, Any] | None:
        return next((doc for doc in self._raw.get(table, {}).values() if doc.get(key) == value), None)

    def matching(self, table: str, key: str, value: Any) -> list[dict[str, Any]]:
        return [doc for doc in self._raw.get(table, {}).values() if doc.get(key) == value]

    def insert(self, table: str, doc: dict[str, Any]) -> None:
        rows = self._raw.setdefault(table, {})
        next_id = self._next.get(table) or max((int(i) for i in rows), default=0) + 1
        rows[str(next_id)] = dict(doc)
        self._next[table] = next_id + 1
        self.changed = True

    def remove(self, table: str, key: str, value: Any) -> int:
        rows = self._raw.get(table, {})
        doomed = [doc_id for doc_id, doc in rows.items() if doc.get(key) == value]
        for doc_id in doomed:
            del rows[doc_id]
        self.changed = self.changed or bool(doomed)
        return len(doomed)

    def remove_table(self, table: str) -> None:
        self._next.pop(table, None)
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
