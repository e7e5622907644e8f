"""One PostgreSQL database shared by the readings and the documents: the connection pool, the
mapping of database failures onto the store's errors, and the schema migrated at open.

Every connection commits synchronously (`synchronous_commit = on`, whatever the server's
default): a commit that returned is on the database's disk, so an acknowledged reading survives
a crash of the database machine, as the embedded store's fsync does.
"""
from __future__ import annotations

import contextlib
import logging
import re
import threading
from typing import Iterator

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from servidor.store.errors import StorageFull, StorageUnavailable, StoreError

from .migrations import migrate

log = logging.getLogger(__name__)

# Connections kept open per server: one per handler thread (8 by default) plus the housekeeper,
# the health probe and the live listener's own connection, which is outside the pool.
DEFAULT_POOL_SIZE = 12
# How long a request waits for a free connection, or for a database that stopped answering,
# before it is told the storage is unavailable (503) rather than hanging its agent.
CONNECTION_WAIT_S = 10.0
# Opening waits this long for the database before the command line reports that it cannot.
OPEN_WAIT_S = 15.0
# A command (`servidor migrar`) connects once before it starts: long enough for a distant
# database to answer, short enough that a wrong host is reported while the user still waits.
PROBE_WAIT_S = 10.0

UNAVAILABLE = "o banco PostgreSQL não responde"


class DatabaseError(StoreError):
    """The database cannot be opened (unreachable, refused, a missing schema)."""


class BadUrl(DatabaseError):
    """A connection string libpq cannot parse."""


def redacted(url: str) -> str:
    """The URL without its password, for logs and `/saude`."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def place(url: str, schema: str) -> str:
    """Where a database is, without user or password: to show, and to know it again later."""
    info = conninfo_to_dict(url)
    host = info.get("host") or "localhost"
    return f"postgresql://{host}:{info.get('port') or 5432}/{info.get('dbname') or info.get('user') or ''} " \
           f"(esquema {schema})"


def probe(url: str, timeout_s: float = PROBE_WAIT_S) -> None:
    """One connection now, or DatabaseError with libpq's reason (a bad URL, refused, a wrong
    password, no such database): for commands, which should not wait as a starting server does."""
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise BadUrl(f"URL do PostgreSQL inválida: {redacted(url)}", str(exc).strip()) from exc
    try:
        with psycopg.connect(url, connect_timeout=max(1, round(timeout_s))):
            pass
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseError(f"não foi possível conectar ao PostgreSQL em {redacted(url)}", reason) from exc


def translated(exc: Exception) -> StoreError:
    if isinstance(exc, (pg_errors.DiskFull, pg_errors.OutOfMemory)):
        return StorageFull(f"o banco PostgreSQL está sem espaço: nada foi gravado ({type(exc).__name__})")
    return StorageUnavailable(f"{UNAVAILABLE}: nada foi gravado", type(exc).__name__)


class Database:
    """A pool of connections to one database, whose schema `open` brings to this version."""

    def __init__(self, url: str, pool: ConnectionPool, schema: str = "public") -> None:
        self.url = url
        self.pool = pool
        self.schema = schema
        self._users = 0
        self._users_lock = threading.Lock()

    def acquire(self) -> "Database":
        """One more store uses the pool; the last `release` closes it."""
        with self._users_lock:
            self._users += 1
        return self

    def release(self) -> None:
        with self._users_lock:
            self._users -= 1
            last = self._users == 0
        if last:
            self.pool.close()

    @classmethod
    def open(cls, url: str, pool_size: int = DEFAULT_POOL_SIZE, wait_s: float = OPEN_WAIT_S) -> "Database":
        """Connect and migrate. DatabaseError when the database does not answer in `wait_s` or has
        no schema to write in; SchemaTooNew for a database migrated by a newer server."""
        # No check on checkout (it would cost a round trip per transaction): a connection the
        # database dropped fails its request (503, the agent resends) and the pool discards it.
        pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=False, configure=_configure,
                              timeout=CONNECTION_WAIT_S, name="monitor-energia")
        try:
            pool.open(wait=True, timeout=wait_s)
        except (PoolTimeout, psycopg.Error) as exc:
            pool.close()
            raise DatabaseError(f"não foi possível conectar ao PostgreSQL em {redacted(url)}", str(exc)) from exc
        try:
            with pool.connection() as conn:
                schema = conn.execute("SELECT current_schema()").fetchone()[0]
                if schema is None:
                    raise DatabaseError("o esquema indicado em search_path não existe: crie-o antes (CREATE SCHEMA)")
                migrate(conn)
        except BaseException:
            pool.close()
            raise
        return cls(url, pool, schema)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A connection inside one transaction: committed when the block ends, rolled back if it
        raises. Database failures come out as StorageUnavailable / StorageFull."""
        try:
            with self.pool.connection() as conn:
                with conn.transaction():
                    yield conn
        except StoreError:
            raise
        except (PoolTimeout, psycopg.OperationalError, pg_errors.DiskFull, pg_errors.OutOfMemory) as exc:
            raise translated(exc) from exc

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection (autocommit) for a caller that writes BEGIN and COMMIT itself, to send
        them in the same round trips as its statements: a transaction it leaves open, by an
        exception or otherwise, is rolled back. Failures as in `transaction`."""
        try:
            with self.pool.connection() as conn:
                try:
                    yield conn
                finally:
                    if conn.info.transaction_status != TransactionStatus.IDLE and not conn.closed:
                        try:
                            conn.execute("ROLLBACK")
                        except psycopg.Error:
                            pass    # a broken connection: the pool discards it
        except StoreError:
            raise
        except (PoolTimeout, psycopg.OperationalError, pg_errors.DiskFull, pg_errors.OutOfMemory) as exc:
            raise translated(exc) from exc

    def health(self) -> tuple[bool, str | None]:
        try:
            with self.transaction() as conn:
                conn.execute("SELECT 1")
        except StoreError as exc:
            return False, exc.reason
        return True, None

    def close(self) -> None:
        self.pool.close()


def _configure(conn: psycopg.Connection) -> None:
    conn.execute("SET synchronous_commit = on")
    conn.commit()
    # Transactions are explicit: `Database.transaction`, or BEGIN and COMMIT sent by the caller
    # (`Database.connection`).
    conn.autocommit = True
