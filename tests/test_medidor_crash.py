"""`kill -9` of the agent subprocess loses nothing it spooled, and a restart resumes the seq."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from medidor.spool import Spool
from medidor.spool.cursor import read_cursor
from medidor.spool.recovery import inspect
from tests.conftest import REGISTRATION
from tests.medidor_harness import Server, server, wait_for  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow



def start_agent(server: Server, state: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.Popen(
        [sys.executable, "-m", "medidor", "--id", "k9", "--servidor", server.url, "--chave-registro", REGISTRATION,
         "--estado", str(state), "--intervalo", "0.1", "--sem-teclado", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def spool_state(state: Path) -> tuple[int | None, int]:
    with Spool(state / "k9" / "spool") as spool:
        return spool.last_seq, spool.pending


def pending_now(state: Path) -> int:
    """What the running agent's spool holds, read without opening it (the agent holds it)."""
    directory = state / "k9" / "spool"
    if not directory.exists():
        return 0
    return inspect(directory, read_cursor(directory)).pending


def test_kill_9_with_an_unsent_backlog_then_restart_loses_nothing(tmp_path: Path, server: Server) -> None:
    state = tmp_path / "estado"
    agent = start_agent(server, state)
    try:
        wait_for(lambda: len(server.readings("k9")) >= 5, "first readings")
        server.stop()
        wait_for(lambda: pending_now(state) >= 10, "readings spooled while the server is away")
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
