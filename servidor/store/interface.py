"""The readings storage as the domain sees it: a small interface, so that a networked database
backend can replace the local journal for deployments that outgrow one machine.

`servidor.store.readings.ReadingStore` is the local implementation; a backend implements these
methods with the same contracts: durable on return of `append`, rollups kept on ingest, a
deleted stream key dead forever, and failures raised as `servidor.store.StoreError`
(`StorageFull` / `StorageUnavailable` when it lacks space or descriptors, never a bare OSError).
"""
from __future__ import annotations

from datetime import date, tzinfo
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, TypeVar, runtime_checkable

from shared.models import Reading
from servidor.store.readings import AppendResult, FlowPolicy

T = TypeVar("T")


@runtime_checkable
class ReadingsBackend(Protocol):
    def set_timezone(self, meter_id: str, tz: tzinfo) -> None: ...

    def set_flow(self, meter_id: str, policy: FlowPolicy) -> None:
        """How the stream's counter moves (monotonic until set): rollups follow the policy."""

    def append(self, meter_id: str, readings: Sequence[Reading], *, arrived_ms: int | None = None) -> AppendResult:
        """Store new readings durably; repeated seqs are counted as duplicates, not stored.
        StreamDeleted for a deleted key; StorageFull / StorageUnavailable with nothing stored.
        `arrived_ms`: the wall clock at which the meter sent them (ingest), kept as the stream's
        last arrival when the append stores something (`arrivals`)."""

    def arrivals(self) -> dict[str, int]:
        """Each stream's last arrival (`append(arrived_ms=)`): kept in the database, where every
        server on it sees every other's; since the store opened, in a store of one process."""

    def last(self, meter_id: str) -> Reading | None: ...

    def previous(self, meter_id: str) -> Reading | None: ...

    def count(self, meter_id: str) -> int: ...

    def max_seq(self, meter_id: str) -> int | None: ...

    def first_ts(self, meter_id: str) -> int | None: ...

    def readings(self, meter_id: str, start_ms: int | None = None, end_ms: int | None = None,
                 limit: int = 1000) -> list[tuple[Reading, bool]]:
        """Raw readings in time order, each with whether its counter went backwards."""

    def after_seq(self, meter_id: str, seq: int, limit: int = 1000) -> list[Reading]: ...

    def after_key(self, meter_id: str, key: tuple[int, int] | None = None, limit: int = 1000) -> list[Reading]:
        """Readings above (ts, seq) `key` (from the first when None) in (ts, seq) order: a
        whole stream read page by page (`servidor migrar`)."""

    def energy(self, meter_id: str, start_ms: int, end_ms: int, *, exported: bool = False) -> tuple[float, int]:
        """(Wh, covered ms) over 15-minute-aligned [start, end), from the rollups; with
        `exported`, what a bidirectional counter went down by."""

    def day_energy(self, meter_id: str, first: date, last: date, *,
                   exported: bool = False) -> dict[date, tuple[float, int]]: ...

    def delete_meter(self, meter_id: str) -> None:
        """Kill the stream key forever, durably: reads return nothing, appends raise
        StreamDeleted, and its readings are reclaimed."""

    def is_deleted(self, meter_id: str) -> bool: ...

    def meters(self) -> list[str]:
        """The stream keys holding readings, sorted."""

    def deleted_streams(self) -> list[str]:
        """The deleted stream keys, sorted."""

    def health(self) -> tuple[bool, str | None]:
        """(True, None), or (False, a pt-BR reason without paths) while the store cannot write."""

    def add_listener(self, callback: Callable[[str, int], None]) -> None: ...

    def stats(self) -> dict: ...

    def close(self) -> None: ...


class DocumentTables(Protocol):
    """The document tables inside one atomic change (`DocumentsBackend.atomic`)."""

    def rows(self, table: str) -> list[dict[str, Any]]: ...

    def find(self, table: str, key: str, value: Any) -> dict[str, Any] | None: ...

    def matching(self, table: str, key: str, value: Any) -> list[dict[str, Any]]: ...

    def insert(self, table: str, doc: dict[str, Any]) -> None: ...

    def remove(self, table: str, key: str, value: Any) -> int: ...

    def remove_table(self, table: str) -> None: ...

    def upsert(self, table: str, key: str, doc: dict[str, Any]) -> None: ...


@runtime_checkable
class DocumentsBackend(Protocol):
    """Meters, keys, tariffs, alerts, commands and invoices: small JSON documents in named tables.

    `servidor.store.documents.DocumentStore` (TinyDB) and `servidor.store.postgres.PostgresDocuments`
    implement it. `shared` says whether other processes may change the documents (several servers
    on one database): the domain then looks a missing meter or key up again before refusing it."""

    path: Path | None
    shared: bool

    def all(self, table: str) -> list[dict[str, Any]]: ...

    def get(self, table: str, key: str, value: Any) -> dict[str, Any] | None: ...

    def table_names(self) -> list[str]:
        """The names of the tables that hold or held documents, sorted."""

    def matching(self, table: str, key: str, value: Any) -> list[dict[str, Any]]:
        """Every document whose `key` equals `value`, in insertion order."""

    def upsert(self, table: str, key: str, doc: dict[str, Any]) -> None: ...

    def delete(self, table: str, key: str, value: Any) -> int: ...

    def pop(self, table: str, key: str, value: Any) -> list[dict[str, Any]]:
        """Remove and return the documents whose `key` equals `value`: of two callers at once,
        in this process or another, each document goes to exactly one."""

    def atomic(self, change: Callable[[DocumentTables], T]) -> T:
        """Run `change(tables)` as one change: all of it is stored, or (it raised, the write
        failed) none of it. Changes from several threads or processes never interleave."""

    def health(self) -> tuple[bool, str | None]: ...

    def close(self) -> None: ...
