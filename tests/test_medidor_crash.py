"""`kill -9` of the agent subprocess loses nothing it spooled, and a restart resumes the seq."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from medidor.spool import Spool
from tests.conftest import REGISTRATION
from tests.test_medidor_agent import Server, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "srv").start()
    yield running
    if running.http is not None:
        running.stop()


def start_agent(server: Server, state: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.Popen(
        [sys.executable, "-m", "medidor", "--id", "k9", "--servidor", server.url, "--chave-registro", REGISTRATION,
         "--estado", str(state), "--intervalo", "0.1", "--sem-teclado", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def spool_state(state: Path) -> tuple[int | None, int]:
    with Spool(state / "k9" / "spool") as spool:
        return spool.last_seq, spool.pending


def test_kill_9_with_an_unsent_backlog_then_restart_loses_nothing(tmp_path: Path, server: Server) -> None:
    state = tmp_path / "estado"
    agent = start_agent(server, state)
    try:
        wait_for(lambda: len(server.readings("k9")) >= 5, "first readings")
        server.stop()
        time.sleep(1.0)  # ~10 readings spooled while the server is away
        agent.send_signal(signal.SIGKILL)
        agent.wait(20)
        last_seq, pending = spool_state(state)
        assert last_seq is not None and pending >= 3
        server.start()
        agent = start_agent(server, state)
        # The backlog goes first, then new readings continue the sequence.
        wait_for(lambda: len(server.readings("k9")) >= last_seq + 10, "backlog and new readings")
        agent.send_signal(signal.SIGKILL)  # a second crash, this time mid-stream
        agent.wait(20)
        agent = start_agent(server, state)
        before = len(server.readings("k9"))
        wait_for(lambda: len(server.readings("k9")) >= before + 5, "readings after the second restart")
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0, agent.stdout.read() if agent.stdout else ""
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    final_seq, pending = spool_state(state)
    assert pending == 0  # SIGTERM flushes what the server can take
    seqs = [r["seq"] for r in server.readings("k9")]
    assert seqs == list(range(final_seq + 1))
