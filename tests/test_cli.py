"""`servidor` as a newcomer meets it: help, startup line, clean stop, and clear failures."""
from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

from tests.conftest import Api
from tests.server_process import ADMIN, run_cli, start


def test_help_explains_options_keys_and_exit_codes():
    result = run_cli("--help")
    assert result.returncode == 0
    for word in ("--porta", "--db", "--fuso", "--sem-legado", "MONITOR_CHAVE_ADMIN", "porta em uso", "curl",
                 "servidor migrar --de ORIGEM --para DESTINO"):
        assert word in result.stdout


def test_startup_line_names_the_url_and_the_store_and_sigterm_exits_0(tmp_path: Path):
    server = start(tmp_path / "db.json")
    assert str(tmp_path / "db.json") in server.output[-1]
    assert Api(server.port).get("/api/v1/saude").status == 200
    assert server.stop(signal.SIGTERM) == 0
    assert (tmp_path / "db.json").exists() and (tmp_path / "db.leituras").is_dir()


def test_first_start_prints_generated_keys_once(tmp_path: Path):
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONUNBUFFERED"] = "1"
    first = start(tmp_path / "db.json", env=env)
    admin_line = next(line for line in first.output if "administração" in line)
    key = admin_line.rsplit(" ", 1)[1].strip()
    assert Api(first.port, key).get("/api/v1/medidores").status == 200
    first.stop()
    second = start(tmp_path / "db.json", env=env)
    assert not any("administração" in line for line in second.output)
    assert Api(second.port, key).get("/api/v1/medidores").status == 200
    second.stop()
    assert key not in (tmp_path / "db.json").read_text()  # only its hash is stored


def test_port_in_use_exits_3_with_a_clear_message(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("--porta", str(port), "--db", str(tmp_path / "db.json"))
    assert result.returncode == 3
    assert "em uso" in result.stderr


def test_unreadable_store_exits_4(tmp_path: Path):
    db = tmp_path / "db.json"
    db.write_text("{isto não é json")
    result = run_cli("--db", str(db))
    assert result.returncode == 4
    assert "JSON" in result.stderr
    assert "servidor restaurar PASTA_DO_BACKUP" in result.stderr  # names the command, not just "a backup"
    assert db.read_text() == "{isto não é json"  # left untouched for the person to recover


def test_store_from_a_newer_version_exits_5(tmp_path: Path):
    db = tmp_path / "db.json"
    db.write_text(json.dumps({"meta": {"1": {"versao_formato": 99}}}))
    result = run_cli("--db", str(db))
    assert result.returncode == 5
    assert "mais nova" in result.stderr


def test_unknown_zone_is_a_usage_error(tmp_path: Path):
    result = run_cli("--fuso", "Lua/Crateras", "--db", str(tmp_path / "db.json"))
    assert result.returncode == 2 and "fuso" in result.stderr


def test_in_flight_requests_finish_and_data_is_on_disk_after_sigterm(tmp_path: Path):
    server = start(tmp_path / "db.json")
    admin = Api(server.port, ADMIN)
    reply = admin.post("/api/v1/medidores", {"id": "m"})
    write = reply.json["chave_escrita"]
    agent = Api(server.port, write)
    assert agent.post("/api/v1/medidores/m/leituras", {"seq": 1, "ts": 1_790_000_000_000, "energia_wh": 5}).status == 200
    assert server.stop(signal.SIGINT) == 0
    again = start(tmp_path / "db.json")
    try:
        assert Api(again.port, ADMIN).get("/api/v1/medidores/m").json["resumo"]["leituras"] == 1
    finally:
        again.stop()


def test_log_json_writes_one_json_object_per_line(tmp_path: Path):
    server = start(tmp_path / "db.json", "--log-json", "--log-level", "INFO")
    server.stop()
    rest = server.proc.stdout.read()
    events = [json.loads(line) for line in rest.splitlines() if line.startswith("{")]
    assert any(e["mensagem"].startswith("parando") for e in events)
    assert all(set(e) >= {"ts", "nivel", "origem", "mensagem"} for e in events)


def _store_with_readings(tmp_path: Path) -> tuple[Path, str]:
    """A server's store with one meter and its readings; returns the db path and the write key."""
    db = tmp_path / "db.json"
    server = start(db)
    api = Api(server.port, ADMIN)
    created = api.post("/api/v1/medidores", {"id": "casa", "nome": "Casa"}).json
    agent = Api(server.port, created["chave_escrita"])
    assert agent.post("/api/v1/medidores/casa/leituras", {"leituras": [
        {"seq": i, "ts": 1_790_000_000_000 + i * 10_000, "energia_wh": i} for i in range(5)]}).json["aceitas"] == 5
    assert server.stop() == 0
    return db, created["chave_escrita"]


def test_a_missing_or_emptied_database_beside_stored_readings_refuses_to_start(tmp_path: Path):
    db, _ = _store_with_readings(tmp_path)
    saved = db.read_bytes()
    for damage in (lambda: db.unlink(), lambda: db.write_bytes(b""), lambda: db.write_text("{}")):
        damage()
        result = run_cli("--porta", "0", "--db", str(db))
        assert result.returncode == 4, result.stderr
        assert "5 leituras" in result.stderr
        assert "restaure" in result.stderr and f"servidor --db {db} --descartar-leituras-orfas" in result.stderr
        assert f"servidor restaurar PASTA_DO_BACKUP --db {db}" in result.stderr  # the command that does it
        assert (tmp_path / "db.leituras").is_dir()  # nothing was touched
    db.write_bytes(saved)  # restoring the database is enough to start again
    server = start(db)
    assert Api(server.port, ADMIN).get("/api/v1/medidores/casa").json["resumo"]["leituras"] == 5
    assert server.stop() == 0


def test_accepting_the_loss_starts_fresh_and_an_old_id_shows_none_of_its_readings(tmp_path: Path):
    db, _ = _store_with_readings(tmp_path)
    db.unlink()
    server = start(db, "--descartar-leituras-orfas")
    api = Api(server.port, ADMIN)
    assert api.post("/api/v1/medidores", {"id": "casa", "nome": "Casa nova"}).status == 201
    assert api.get("/api/v1/medidores/casa").json["resumo"]["leituras"] == 0
    assert api.get("/api/v1/saude").json["armazenamento"]["leituras"] == 0
    assert server.stop() == 0
    again = start(db)  # the documents exist now: a normal start
    assert Api(again.port, ADMIN).get("/api/v1/medidores/casa").json["resumo"]["leituras"] == 0
    assert again.stop() == 0
