"""Appends made by the other servers on the database, heard through LISTEN/NOTIFY.

Each append, once committed, sends a NOTIFY on its schema's channel (`channel(schema)`: channels
are per database, so two deployments in two schemas must not hear each other) carrying
"<instance>:<max seq>:<stream>"; every server
listens on one connection of its own (outside the pool) and tells its listeners of the appends
whose instance is not its own (its own it told already, right after its commit). So a long poll
waiting on server A is answered by a reading ingested through server B.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

CHANNEL = "monitor_readings"
# How often the listener looks at its stop flag while no notification arrives.
POLL_S = 0.5
# After losing its connection the listener tries again this often (the database restarting).
RECONNECT_S = 1.0


def channel(schema: str) -> str:
    """The channel of the deployment in `schema` (an identifier: at most 63 bytes)."""
    return f"{CHANNEL}.{schema}".encode("utf-8")[:63].decode("utf-8", "ignore")


def listening(conn: psycopg.Connection, channel_name: str) -> int:
    """How many other sessions on the database listen on `channel_name`: the servers running
    on that schema, each with its listener's connection (seen if the database lets this user
    see their sessions, as it does for the same user)."""
    statement = _listen(channel_name).as_string(conn)  # as the listener's session shows it
    row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid() AND query = %s", (statement,)).fetchone()
    return int(row[0])


def _listen(channel_name: str) -> sql.Composed:
    return sql.SQL("LISTEN {}").format(sql.Identifier(channel_name))


def payload(instance: str, stream: str, max_seq: int) -> str:
    return f"{instance}:{max_seq}:{stream}"


def parse(text: str) -> tuple[str, int, str] | None:
    instance, _, rest = text.partition(":")
    seq, _, stream = rest.partition(":")
    return (instance, int(seq), stream) if seq.isdigit() and stream else None


class NotificationListener:
    """A thread that calls `deliver(stream, max_seq)` for every other server's append."""

    def __init__(self, url: str, channel_name: str, instance: str, deliver: Callable[[str, int], None]) -> None:
        self._url = url
        self._channel = channel_name
        self._instance = instance
        self._deliver = deliver
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-notificacoes", daemon=True)
        self.listening = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(_listen(self._channel))
                    self.listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=POLL_S):
                            self._handle(note.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("escuta de leituras de outros servidores interrompida: %s", exc)
                self._stop.wait(RECONNECT_S)

    def _handle(self, text: str) -> None:
        parsed = parse(text)
        if parsed is None or parsed[0] == self._instance:
            return
        try:
            self._deliver(parsed[2], parsed[1])
        except Exception:
            log.exception("ouvinte de leituras falhou para %s", parsed[2])
