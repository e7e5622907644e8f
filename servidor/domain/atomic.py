"""One change to several tables of the document store, stored at once or not at all.

TinyDB rewrites the whole file for every table operation, so "insert the meter, then its keys" is
two writes, and a crash (or a full disk) between them leaves half a change behind. Every document
backend therefore offers `atomic(change)`: the embedded store runs the change on its tables as
plain dicts and replaces its file once (temp file, fsync, rename); PostgreSQL runs it in one
transaction. After a crash either all of the change is there or none of it.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from servidor.store.interface import DocumentsBackend, DocumentTables
from servidor.store.tables import Tables

T = TypeVar("T")

__all__ = ["DocumentTables", "Tables", "atomic"]


def atomic(docs: DocumentsBackend, change: Callable[[DocumentTables], T]) -> T:
    """Run `change(tables)` as one atomic change of the document store.

    If `change` raises, or the write fails (a full disk, a lost database), nothing is written and
    the store keeps what it had."""
    return docs.atomic(change)
