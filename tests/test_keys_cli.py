"""Getting back in (issue 14 #1): first-run keys shown only once stored by a server that listens,
and `servidor chave nova` with the server stopped or running."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from servidor import keys_cli
from servidor.app import readings_dir
from servidor.store.inbox import REQUEST, Inbox, inbox_dir
from servidor.store.readings.files import DirectoryLock
from tests.conftest import Api
from tests.server_process import run_cli, start

pytestmark = pytest.mark.slow


def bare_env() -> dict[str, str]:
    """No MONITOR_CHAVE_*: the server makes its own keys, as on a user's first run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def key_in(text: str, label: str) -> str:
    line = next(line for line in text.splitlines() if label in line and "guarde-a" in line)
    return line.rsplit(" ", 1)[1].strip()


def test_a_server_that_cannot_listen_shows_no_key_and_the_next_start_shows_them(tmp_path: Path):
    db = tmp_path / "db.json"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_cli("--porta", str(busy.getsockname()[1]), "--db", str(db), env=bare_env())
    assert result.returncode == 3
    assert "Chave" not in result.stdout + result.stderr
    server = start(db, env=bare_env())  # nothing was lost: the keys are made and shown now
    try:
        admin = key_in("".join(server.output), "administração")
        assert Api(server.port, admin).get("/api/v1/medidores").status == 200
        assert "servidor chave nova --admin" in "".join(server.output)
    finally:
        assert server.stop() == 0


def test_a_new_admin_key_with_the_server_stopped_replaces_the_lost_one(tmp_path: Path):
    db = tmp_path / "db.json"
    first = start(db, env=bare_env())
    lost = key_in("".join(first.output), "administração")
    assert first.stop() == 0
    made = run_cli("chave", "nova", "--admin", "--db", str(db), env=bare_env())
    assert made.returncode == 0, made.stderr
    new = key_in(made.stdout, "administração")
    assert new not in db.read_text()  # only its hash
    again = start(db, env=bare_env())
    try:
        assert not any("guarde-a" in line for line in again.output)  # stored: not made again
        assert Api(again.port, new).get("/api/v1/medidores").status == 200
        assert Api(again.port, lost).get("/api/v1/medidores").status == 401
    finally:
        again.stop()


def test_a_new_registration_key_reaches_a_running_server_at_once(tmp_path: Path):
    db = tmp_path / "db.json"
    server = start(db, env=bare_env())
    try:
        old = key_in("".join(server.output), "registro")
        made = run_cli("chave", "nova", "--registro", "--db", str(db), env=bare_env())
        assert made.returncode == 0, made.stderr
        new = key_in(made.stdout, "registro")
        assert Api(server.port, new).post("/api/v1/medidores", {"id": "novo"}).status == 201
        assert Api(server.port, old).post("/api/v1/medidores", {"id": "outro"}).status == 401
        assert not any(inbox_dir(db).iterdir())  # request and answer both cleaned up
    finally:
        assert server.stop() == 0
    again = start(db, env=bare_env())  # stored durably, not only in the running server's memory
    try:
        assert Api(again.port, new).post("/api/v1/medidores", {"id": "mais-um"}).status == 201
    finally:
        again.stop()


def test_a_server_that_never_answers_changes_nothing_and_the_request_is_withdrawn(tmp_path, monkeypatch, capsys):
    db = tmp_path / "db.json"
    db.write_text("")
    readings_dir(db).mkdir()
    # The lock held as a running (but hung) server would hold it.
    lock = DirectoryLock(readings_dir(db), durable=False)
    monkeypatch.setattr(keys_cli, "ANSWER_WAIT_S", 0.3)
    try:
        assert keys_cli.main(["nova", "--admin", "--db", str(db)]) == keys_cli.EXIT_NOT_DONE
    finally:
        lock.release()
    out = capsys.readouterr()
    assert "não respondeu" in out.err and "Chave" not in out.out
    assert not list(inbox_dir(db).glob(f"*{REQUEST}"))


def test_usage_errors_name_the_command(tmp_path: Path):
    assert run_cli("chave", "velha").returncode == 2
    missing = run_cli("chave", "nova", "--admin", "--db", str(tmp_path / "nada.json"))
    assert missing.returncode == 2 and "não existe" in missing.stderr
    both = run_cli("chave", "nova", "--admin", "--registro", "--db", str(tmp_path / "nada.json"))
    assert both.returncode == 2


def test_a_claimed_request_cannot_be_withdrawn_and_its_answer_still_arrives(tmp_path: Path):
    box = Inbox(tmp_path / "pedidos")
    request_id = box.submit({"papel": "admin"})
    [(claimed_id, request)] = box.claim()
    assert (claimed_id, request) == (request_id, {"papel": "admin"})
    assert box.withdraw(request_id) is False
    box.answer(request_id, {"ok": True})
    assert box.wait(request_id, 1.0) == {"ok": True}
    assert list((tmp_path / "pedidos").iterdir()) == []
    unclaimed = box.submit({"papel": "admin"})
    assert box.withdraw(unclaimed) is True and box.claim() == []
    assert oct((tmp_path / "pedidos").stat().st_mode & 0o777) == "0o700"
