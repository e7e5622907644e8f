"""Nothing secret in what the agent writes for people: no key in a log line, a message or the
status line (issue 8, finding 14: the agent logged its read key)."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from medidor.state import StateFile
from medidor.status import render
from tests.conftest import REGISTRATION
from tests.medidor_harness import Running, Server, config, server, wait_for  # noqa: F401 (fixture)


class Everything(logging.Handler):
    """Every record the agent's loggers emit, formatted as the console and log files do."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("servidor"):  # the in-process server is not the agent
            self.lines.append(self.format(record))


def test_no_key_reaches_a_log_line_a_message_or_the_status_line(tmp_path: Path, server: Server) -> None:
    handler = Everything()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    statuses: list[str] = []
    watching = threading.Event()

    def watch(run: Running) -> None:
        while not watching.wait(0.05):
            statuses.append(render(run.agent.status.snapshot()))

    try:
        cfg = config(tmp_path, server)
        run = Running(cfg)
        watcher = threading.Thread(target=watch, args=(run,))
        watcher.start()
        wait_for(lambda: len(server.readings("casa-1")) >= 3, "first readings")
        run.stop()
        watching.set()
        watcher.join()
        # A refused registration key must not be echoed either.
        wrong = "chave-de-registro-errada-123"
        refused = Running(config(tmp_path, server, medidor="casa-2", estado=tmp_path / "outro", chave_registro=wrong))
        wait_for(lambda: "recusad" in refused.agent.status.snapshot().servidor, "the refusal")
        statuses.append(render(refused.agent.status.snapshot()))
        refused.stop()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    state = StateFile(cfg.estado).load()
    assert state is not None and state.chave_escrita and state.chave_leitura
    texts = handler.lines + run.messages + refused.messages + statuses
    assert len(handler.lines) > 3 and statuses
    for secret in (state.chave_escrita, state.chave_leitura, REGISTRATION, wrong):
        leaks = [t for t in texts if secret in t]
        assert not leaks, leaks
    # The owner is told where the read key is instead.
    assert any("chave_leitura" in m and str(StateFile(cfg.estado).path) in m for m in run.messages)


def test_the_state_file_holding_the_keys_is_the_agent_users_alone(tmp_path: Path, server: Server) -> None:
    cfg = config(tmp_path, server)
    run = Running(cfg)
    wait_for(lambda: StateFile(cfg.estado).load() is not None and StateFile(cfg.estado).load().registered,
             "registration")
    run.stop()
    assert StateFile(cfg.estado).path.stat().st_mode & 0o777 == 0o600
