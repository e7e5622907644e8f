"""`servidor backup` and `servidor restaurar` (issue 14 #9): a backup taken while the server runs and
ingests restores to a store whose invoices are those the source gave at the instant of the cut."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from servidor.app import readings_dir
from servidor.cli import main
from servidor.store.backup import MANIFEST
from servidor.store.readings.files import DirectoryLock
from tests.data_support import household, running, send, server_with_history, what_a_user_sees
from tests.test_migrate import SENSOR_LINE, with_pulses

MONTHS = ["2026-09", "2026-10"]


@pytest.mark.slow
def test_a_backup_taken_under_ingest_restores_to_the_invoices_of_the_cut(tmp_path, capsys):
    history = household(1, 20_000, step_min=5)  # 2026-08-01 to 2026-10-10
    db = tmp_path / "origem" / "db.json"
    db.parent.mkdir()
    backup = tmp_path / "backup"
    with running(db) as server:
        write, _ = server.create_meter("casa", dia_leitura=10)
        send(server, write, "casa", history[:2000])
        stop, sent = threading.Event(), []

        def ingest() -> None:  # one agent sending its backlog in order, 50 readings a request
            agent = server.client(write)
            try:
                for start in range(2000, len(history), 50):
                    if stop.is_set():
                        return
                    reply = agent.post("/api/v1/medidores/casa/leituras", {"leituras": history[start:start + 50]})
                    assert reply.status == 200
                    sent.append(start + 50)
                    stop.wait(0.005)  # an agent's pace: the backlog outlasts the backup on any machine
            finally:
                agent.close()

        agent = threading.Thread(target=ingest)
        agent.start()
        try:
            while len(sent) < 20:  # well inside the backlog
                stop.wait(0.01)
            asked = sent[-1]
            assert main(["backup", str(backup), "--db", str(db)]) == 0
            answered = sent[-1]
        finally:
            stop.set()
            agent.join()
        assert "feito pelo servidor em execução" in capsys.readouterr().out
    cut = json.loads((backup / MANIFEST).read_text())["leituras"]["casa"]
    assert asked <= cut <= answered + 50 and cut % 50 == 0  # taken meanwhile; a request all in or all out
    assert answered > asked and cut < len(history)  # the agent kept sending while the backup was made

    restored = tmp_path / "restaurado" / "db.json"
    assert main(["restaurar", str(backup), "--db", str(restored)]) == 0
    reference = tmp_path / "referencia" / "db.json"  # the source as it was at the cut
    reference.parent.mkdir()
    server_with_history(reference, {"casa": history[:cut]})
    with running(reference) as at_cut:
        expected = what_a_user_sees(at_cut, ["casa"], MONTHS)
    with running(restored) as after:
        seen = what_a_user_sees(after, ["casa"], MONTHS)
        assert after.admin.get("/api/v1/medidores").status == 200  # the source's keys came along
    assert seen["casa"]["faturas"]["2026-09"]["total"]
    assert seen == expected


def test_a_backup_of_a_stopped_server_restored_over_another_keeps_what_was_there(tmp_path, capsys):
    source = tmp_path / "origem" / "db.json"
    source.parent.mkdir()
    server_with_history(source, {"casa": household(1, 3000)})
    other = tmp_path / "outro" / "db.json"
    other.parent.mkdir()
    server_with_history(other, {"loja": household(1, 500)})
    assert main(["backup", str(tmp_path / "b"), "--db", str(source)]) == 0
    assert "servidor parado" in capsys.readouterr().out
    assert main(["backup", str(tmp_path / "b"), "--db", str(source)]) == 1  # never over a backup
    assert "já existe" in capsys.readouterr().err

    lock = DirectoryLock(readings_dir(other), durable=False)  # as a running server holds it
    try:
        assert main(["restaurar", str(tmp_path / "b"), "--db", str(other)]) == 4
        assert "pare-o" in capsys.readouterr().err
    finally:
        lock.release()
    assert main(["restaurar", str(tmp_path / "b"), "--db", str(other)]) == 0
    out = capsys.readouterr().out
    assert "3000 leituras" in out and "guardado em" in out
    with running(other) as after:
        ids = [m["id"] for m in after.admin.get("/api/v1/medidores").json["medidores"]]
        assert ids == ["casa"]
    aside = [p.name for p in other.parent.iterdir() if ".antes-" in p.name]
    assert any(name.startswith("db.json.antes-") for name in aside)
    assert any(name.startswith("db.leituras.antes-") for name in aside)


@pytest.mark.parametrize("broken, says", [
    (lambda b: (b / MANIFEST).unlink(), "não é um backup"),
    (lambda b: (b / MANIFEST).write_text('{"formato": 99}'), "mais novo"),
])
def test_a_folder_that_is_not_a_usable_backup_is_refused_and_nothing_changes(tmp_path, capsys, broken, says):
    source = tmp_path / "origem" / "db.json"
    source.parent.mkdir()
    server_with_history(source, {"casa": household(1, 10)})
    assert main(["backup", str(tmp_path / "b"), "--db", str(source)]) == 0
    broken(tmp_path / "b")
    target = tmp_path / "alvo" / "db.json"
    assert main(["restaurar", str(tmp_path / "b"), "--db", str(target)]) == 1
    assert says in capsys.readouterr().err
    assert not target.exists()


@pytest.mark.parametrize("server_up", [True, False], ids=["rodando", "parado"])
def test_blinks_and_events_go_into_the_backup_and_come_back(tmp_path, capsys, server_up):
    """db.pulsos/ and db.eventos/ are part of the store: a restore that lost them would give a
    pulse meter's blipserver clients an empty history and the clustering nothing to group."""
    source = tmp_path / "origem" / "db.json"
    source.parent.mkdir()
    with running(source) as server:
        write, _ = server.create_meter("contador", pulsos_por_kwh=1000, publico=True)
        readings = with_pulses(household(1, 300, step_min=1), per=4)
        send(server, write, "contador", readings)
        since = f"/since/{{}}/{readings[0]['pulsos'][0][0]}"
        for _ in range(2):
            reply = server.client().call("POST", "/log/store", raw=SENSOR_LINE, headers={"Content-Type": "text/plain"})
            assert reply.status == 200, reply.body
        blip = server.admin.get("/api/v1/medidores/contador").json["id_blip"]
        before = server.client().get(since.format(blip)).json
        if server_up:
            assert main(["backup", str(tmp_path / "b"), "--db", str(source)]) == 0
    if not server_up:
        assert main(["backup", str(tmp_path / "b"), "--db", str(source)]) == 0
    capsys.readouterr()
    manifest = json.loads((tmp_path / "b" / MANIFEST).read_text())
    assert manifest["pulsos"] == {"contador": len(before)} and manifest["eventos"] == 2 and len(before) > 1000

    target = tmp_path / "alvo" / "db.json"
    target.parent.mkdir()
    server_with_history(target, {"loja": household(1, 10)})
    with running(target) as other:  # the target has blinks of its own: they are set aside, not mixed in
        write, _ = other.create_meter("contador", pulsos_por_kwh=1000)
        send(other, write, "contador", with_pulses(household(1, 5, step_min=1), per=2))
    assert main(["restaurar", str(tmp_path / "b"), "--db", str(target)]) == 0
    assert "db.pulsos.antes-" in capsys.readouterr().out
    with running(target) as after:
        assert after.client().get(since.format(blip)).json == before
        assert after.app.services.events.count == 2
