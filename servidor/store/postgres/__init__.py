"""The PostgreSQL store: readings and documents in one database that several servers share
(`servidor --banco postgresql://…`). See docs/postgresql.md."""
from __future__ import annotations

from .database import BadUrl, Database, DatabaseError, place, probe, redacted
from .documents import PostgresDocuments
from .migrations import SchemaTooNew
from .readings import PostgresReadings

__all__ = ["BadUrl", "Database", "DatabaseError", "PostgresDocuments", "PostgresReadings", "SchemaTooNew",
           "open_postgres", "place", "probe", "redacted"]


def open_postgres(url: str, *, listen: bool = True) -> tuple[PostgresDocuments, PostgresReadings]:
    """Connect, migrate, and give the two stores on that database; closing both closes the pool.
    DatabaseError / SchemaTooNew when it cannot be used."""
    db = Database.open(url)
    try:
        return PostgresDocuments(db), PostgresReadings(db, listen=listen)
    except BaseException:
        db.close()
        raise
