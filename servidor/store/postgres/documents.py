"""PostgresDocuments: the document interface (`servidor.store.interface.DocumentsBackend`) as
JSONB rows of one table, shared by every server on the database.

Every change runs in one transaction that first takes one advisory lock (DOCUMENTS_LOCK): changes
from all servers are serialised as the embedded store's one lock serialises its threads, so a
read-then-write change (the next generation of a meter id, "replace the admin key") never
interleaves with another. Documents change rarely; readings never take this lock.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from .database import Database, place

T = TypeVar("T")

# Names "the monitor-energia documents" among the database's advisory locks.
DOCUMENTS_LOCK = 0x4D_45_44_4F  # "MEDO"
_SCALARS = (str, int, float, bool)


def _match(key: str, value: Any) -> tuple[str, tuple] | None:
    """A WHERE clause for doc[key] == value, when JSONB containment says exactly that."""
    if isinstance(value, _SCALARS):
        return "doc @> %s", (Jsonb({key: value}),)
    return None


class SqlTables:
    """The document tables inside one transaction (`DocumentTables`)."""

    def __init__(self, conn) -> None:
        self._conn = conn

    def rows(self, table: str) -> list[dict[str, Any]]:
        return [row[0] for row in self._conn.execute("SELECT doc FROM documents WHERE tbl = %s ORDER BY id", (table,))]

    def with_ids(self, table: str, key: str, value: Any) -> list[tuple[int, dict[str, Any]]]:
        """(row id, document) of the documents whose `key` equals `value`, in insertion order."""
        match = _match(key, value)
        if match is None:
            rows = self._conn.execute("SELECT id, doc FROM documents WHERE tbl = %s ORDER BY id", (table,))
        else:
            rows = self._conn.execute(f"SELECT id, doc FROM documents WHERE tbl = %s AND {match[0]} ORDER BY id",
                                      (table, *match[1]))
        return [(row[0], row[1]) for row in rows if row[1].get(key) == value]

    def find(self, table: str, key: str, value: Any) -> dict[str, Any] | None:
        found = self.with_ids(table, key, value)
        return found[0][1] if found else None

    def matching(self, table: str, key: str, value: Any) -> list[dict[str, Any]]:
        return [doc for _, doc in self.with_ids(table, key, value)]

    def insert(self, table: str, doc: dict[str, Any]) -> None:
        self._conn.execute("INSERT INTO documents (tbl, doc) VALUES (%s, %s)", (table, Jsonb(doc)))

    def remove(self, table: str, key: str, value: Any) -> int:
        ids = [doc_id for doc_id, _ in self.with_ids(table, key, value)]
        if ids:
            self._conn.execute("DELETE FROM documents WHERE id = ANY(%s)", (ids,))
        return len(ids)

    def remove_table(self, table: str) -> None:
        self._conn.execute("DELETE FROM documents WHERE tbl = %s", (table,))

    def upsert(self, table: str, key: str, doc: dict[str, Any]) -> None:
        ids = [doc_id for doc_id, _ in self.with_ids(table, key, doc[key])]
        if not ids:
            self.insert(table, doc)
            return
        self._conn.execute("UPDATE documents SET doc = %s WHERE id = %s", (Jsonb(doc), ids[0]))
        if len(ids) > 1:
            self._conn.execute("DELETE FROM documents WHERE id = ANY(%s)", (ids[1:],))


class PostgresDocuments:
    """Documents in PostgreSQL; other servers may change them (`shared`)."""

    path = None
    shared = True

    def __init__(self, db: Database) -> None:
        self._db = db.acquire()
        # What /saude shows: the kind and the database's name, never the host or the user.
        self.label = f"PostgreSQL ({conninfo_to_dict(db.url).get('dbname') or 'padrão'})"
        # Where, for `servidor migrar` to show and to recognise on a later run.
        self.place = place(db.url, db.schema)

    def atomic(self, change: Callable[[SqlTables], T]) -> T:
        with self._db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (DOCUMENTS_LOCK,))
            return change(SqlTables(conn))

    def table_names(self) -> list[str]:
        with self._db.transaction() as conn:
            return [row[0] for row in conn.execute("SELECT DISTINCT tbl FROM documents ORDER BY tbl")]

    def all(self, table: str) -> list[dict[str, Any]]:
        with self._db.transaction() as conn:
            return SqlTables(conn).rows(table)

    def get(self, table: str, key: str, value: Any) -> dict[str, Any] | None:
        with self._db.transaction() as conn:
            return SqlTables(conn).find(table, key, value)

    def matching(self, table: str, key: str, value: Any) -> list[dict[str, Any]]:
        with self._db.transaction() as conn:
            return SqlTables(conn).matching(table, key, value)

    def pop(self, table: str, key: str, value: Any) -> list[dict[str, Any]]:
        """DELETE … RETURNING, without the documents lock: a row is deleted once, so each
        document goes to one caller however many servers ask at once."""
        match = _match(key, value)
        with self._db.transaction() as conn:
            if match is None:
                ids = [doc_id for doc_id, _ in SqlTables(conn).with_ids(table, key, value)]
                rows = conn.execute("DELETE FROM documents WHERE id = ANY(%s) RETURNING id, doc", (ids,))
            else:
                rows = conn.execute(f"DELETE FROM documents WHERE tbl = %s AND {match[0]} RETURNING id, doc",
                                    (table, *match[1]))
            found = sorted((row[0], row[1]) for row in rows)
        return [doc for _, doc in found if doc.get(key) == value]

    def upsert(self, table: str, key: str, doc: dict[str, Any]) -> None:
        self.atomic(lambda tables: tables.upsert(table, key, doc))

    def delete(self, table: str, key: str, value: Any) -> int:
        return self.atomic(lambda tables: tables.remove(table, key, value))

    def health(self) -> tuple[bool, str | None]:
        return self._db.health()

    def side_stores(self, event_width: int):
        """The blink and event stores in this same database, which the app uses instead of the
        files it keeps beside an embedded store (each holds the pool until closed)."""
        from .blinks import PostgresBlinks
        from .events import PostgresEvents

        return PostgresBlinks(self._db), PostgresEvents(self._db, event_width)

    def close(self) -> None:
        self._db.release()

