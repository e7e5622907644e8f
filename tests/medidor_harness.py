"""What the agent's tests share: a real server that can go down and come back behind a port that
stays bound for the whole test, an agent on its own thread, waiting on real conditions, and a
real tiny filesystem to fill."""
from __future__ import annotations

import errno
import faulthandler
import os
import selectors
import socket
import subprocess
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from medidor.agent import Agent
from medidor.config import AgentConfig
from servidor.api.dispatch import CORS
from servidor.api.envelope import error_response
from servidor.api.legacy import body_until_close
from servidor.app import App, Settings, readings_dir
from servidor.net import HttpServer
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from shared.backoff import Backoff
from tests.conftest import ADMIN, REGISTRATION, TEST_KEY_COST, Api

# Generous bounds for a loaded 2-core machine: the conditions are normally met in well under 1 s.
WAIT_S = 30.0
# Polling interval of `wait_for`; it only bounds how late a met condition is noticed.
POLL_S = 0.02


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Poll `condition` until it holds; on timeout dump every thread and fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(POLL_S)
    faulthandler.dump_traceback(all_threads=True)
    raise AssertionError(f"timed out waiting for {what}")


class Gate:
    """A port bound from the test's start to its end that forwards to the server while it is up.

    A server restarted on its old port races every other process binding port 0 on the machine
    (the bind-close-reuse race); the agent is pointed here instead. While closed, a connection
    is accepted and dropped at once, which the agent sees as an unreachable server."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._target: int | None = None
        self._open: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="gate-accept", daemon=True)
        self._acceptor.start()

    def route(self, port: int | None) -> None:
        """Forward new connections to `port`; None drops every forwarded connection too."""
        with self._lock:
            self._target = port
            dropping = self._open if port is None else []
            if port is None:
                self._open = []
        for sock in dropping:
            _shut(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                target = self._target
            try:
                upstream = None if target is None else socket.create_connection(("127.0.0.1", target), timeout=5)
            except OSError:
                upstream = None
            if upstream is None:
                _shut(client)
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
                thread = threading.Thread(target=self._pipe, args=(client, upstream), name="gate-pipe", daemon=True)
                self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(a, selectors.EVENT_READ, b)
            selector.register(b, selectors.EVENT_READ, a)
            try:
                while True:
                    for key, _ in selector.select():
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        key.data.sendall(data)
            except OSError:
                return
            finally:
                for sock in (a, b):
                    _shut(sock)
                    sock.close()

    def close(self) -> None:
        self.route(None)
        _shut(self._listener)  # wakes the blocked accept
        self._listener.close()
        self._acceptor.join(WAIT_S)
        for thread in list(self._threads):
            thread.join(WAIT_S)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class Server:
    """A real server over stores in `directory`, reached through a Gate; `stop` and `start`
    again keep the agent's address."""

    def __init__(self, directory: Path, wrap: Callable[[Callable], Callable] | None = None) -> None:
        """`wrap(handler)` may return a handler that misbehaves before delegating (5xx, delays)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.wrap = wrap
        self.db = directory / "db.json"
        self.gate = Gate()
        self.http: HttpServer | None = None
        self.app: App | None = None
        self.port = 0   # the real server's current port (tests talk to it directly)

    def start(self) -> "Server":
        docs = DocumentStore.open(self.db)
        store = ReadingStore.open(readings_dir(self.db))
        self.app = App(docs, store, Settings(admin_key=ADMIN, registration_key=REGISTRATION, key_cost=TEST_KEY_COST),
                       announce=lambda _: None)
        handler = self.app.handle if self.wrap is None else self.wrap(self.app.handle)
        self.http = HttpServer(handler, "127.0.0.1", 0, workers=4, body_until_close=body_until_close,
                               default_headers=CORS, error_response=error_response)
        self.http.start()
        self.app.start()
        self.port = self.http.address[1]
        self.gate.route(self.port)
        return self

    def stop(self) -> None:
        assert self.http is not None and self.app is not None
        self.gate.route(None)
        self.http.shutdown()
        self.app.close()
        self.http = self.app = None

    def close(self) -> None:
        if self.http is not None:
            self.stop()
        self.gate.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gate.port}"

    def admin(self) -> Api:
        return Api(self.port, ADMIN)

    def readings(self, meter_id: str) -> list[dict[str, Any]]:
        api = self.admin()
        try:
            reply = api.get(f"/api/v1/medidores/{meter_id}/leituras?limite=10000")
            if reply.status == 404:
                return []  # not registered yet
            assert reply.status == 200, reply.body
            return reply.json["leituras"]
        finally:
            api.close()

    def meter(self, meter_id: str) -> dict[str, Any]:
        api = self.admin()
        try:
            reply = api.get(f"/api/v1/medidores/{meter_id}")
            assert reply.status == 200, reply.body
            return reply.json
        finally:
            api.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "srv").start()
    yield running
    running.close()


class Running:
    """An agent on its own thread; `stop` sets the event and joins (the agent flushes first)."""

    def __init__(self, config: AgentConfig, **agent_options: Any) -> None:
        # Retries every ≤ 0.2 s: the tests' outages last a second, not minutes.
        agent_options.setdefault("server_backoff", Backoff(0.05, 0.2))
        self.messages: list[str] = []
        self.agent = Agent(config, on_message=self.messages.append, **agent_options)
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.agent.run(self.stop_event)
        except BaseException as exc:  # surfaced by stop(); printed now for tests that wait
            self.error = exc
            traceback.print_exc()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive(), "agent did not stop"
        if self.error is not None:
            raise self.error


def config(tmp_path: Path, server: Server, **overrides: Any) -> AgentConfig:
    base = AgentConfig(medidor="casa-1", servidor=server.url, estado=tmp_path / "agente", chave_registro=REGISTRATION,
                       intervalo_s=0.1, semente=7)
    return replace(base, **overrides)


# -- a real full disk ----------------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """`tiny_disk(size_bytes)` mounts a tmpfs of that size and returns its path: a real
    filesystem that really fills (ENOSPC, short writes), unmounted after the test.

    Mounting needs root (CAP_SYS_ADMIN); without it the test is skipped with that reason, as a
    fault-injected OSError would test our idea of ENOSPC rather than the kernel's."""
    mounted: list[Path] = []

    def mount(size: int) -> Path:
        if os.geteuid() != 0:
            pytest.skip("montar um tmpfs (um disco pequeno de verdade, que enche) exige root")
        point = tmp_path / f"disco{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"não foi possível montar um tmpfs: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def fill(directory: Path, leave: int = 0) -> Path:
    """Fill the filesystem of `directory` with one file, then give back `leave` bytes."""
    filler = directory / "enchimento"
    with open(filler, "wb", buffering=0) as f:
        chunk = bytes(64 * 1024)
        while True:
            try:
                f.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 2]
    if leave:
        os.truncate(filler, max(filler.stat().st_size - leave, 0))
    return filler


def free_space(directory: Path) -> int:
    stat = os.statvfs(directory)
    return stat.f_bavail * stat.f_frsize
