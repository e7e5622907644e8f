"""`servidor migrar` (issue 15 #4): the demo's store goes to PostgreSQL and back into a new db.json
and every server on the way answers the same invoices, readings and days; an interrupted copy
(kill -9, Ctrl-C) continues without duplicating anything; a difference found at the end, and
every refusal, are said in Portuguese with the exit code of the other commands."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from servidor.app import blinks_dir, readings_dir
from servidor.domain.event_line import FEATURE_WIDTH
from servidor.cli import main
from servidor.store.blinks import BlinkStore
from servidor.store.documents import DocumentStore
from servidor.store.migration import pages
from servidor.store.postgres import open_postgres
from servidor.store.readings import ReadingStore
from servidor.store.readings.files import DirectoryLock
from tests import postgres
from tests.conftest import ADMIN, Running, start_server, stop_server
from tests.data_support import AUG_1, MIN, differences, every_reading, household, running, send

ROOT = Path(__file__).resolve().parent.parent
M = "/api/v1/medidores"
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1: refused at once
SENSOR_LINE = (b"Device: ID=3; Fw=1; Evt=2; Power: Active=1753W; Reactive=279var; Appearent=403VA; "
               b"Line: Current=7.359; Voltage=230.08V; Phase=-43,841rad; Peaks: 7.33;7.29;7.37;7.01")


def net_meter_readings(n: int) -> list[dict]:
    """A two-way counter every 5 minutes: up 20 Wh four times, down 10 Wh twice (export), with
    the grid's frequency on some readings."""
    out, energy = [], 50_000.0
    for i in range(n):
        energy += 20.0 if i % 6 < 4 else -10.0
        reading = {"seq": i + 1, "ts": AUG_1 + i * 5 * MIN, "energia_wh": energy, "potencia_w": float(i % 900)}
        if i % 10 == 0:
            reading["FRE"] = 60.0 + (i % 7) / 100
        out.append(reading)
    return out


def with_pulses(readings: list[dict], per: int) -> list[dict]:
    """The readings of a pulse counter's agent: each carries the `per` blinks seen since the one before."""
    out, previous = [], None
    for reading in readings:
        start = reading["ts"] - 60_000 if previous is None else previous
        step = (reading["ts"] - start) // per
        out.append({**reading, "pulsos": [[start + step * (k + 1), step] for k in range(per)]})
        previous = reading["ts"]
    return out


def view(server: Running) -> dict[str, Any]:
    """What a user reads: meters, sites, tariffs, and per meter every invoice (listing and each
    cycle's answer, with its version and when it was issued), days, alerts, commands, readings,
    its blinks (blipserver's routes); energy-sensors' clusters."""
    clusters = server.app.services.events.clusters
    assert clusters.wait_idle(30)  # computed at start from the stored events
    seen: dict[str, Any] = {path: server.admin.get(f"/api/v1/{path}").json for path in ("medidores", "sites", "tarifas",
                                                                                       "bandeiras")}
    seen["eventos"] = (server.app.services.events.count, server.client().get("/clusters/summary").json)
    for meter in seen["medidores"]["medidores"]:
        # The cycle's invoice if the pace so far holds to its end: it moves as the clock does.
        meter["resumo"].pop("fatura_projetada", None)
    for meter in sorted(m["id"] for m in seen["medidores"]["medidores"]):
        listing = server.admin.get(f"{M}/{meter}/faturas").json
        seen[meter] = {
            "faturas": listing,
            "por_ciclo": {f["mes"]: server.admin.get(f"{M}/{meter}/faturas/{f['mes']}").json
                          for f in listing.get("faturas", [])},
            "dias": server.admin.get(f"{M}/{meter}/consumo?intervalo=dia&de=2026-07-01&ate=2026-11-30").json,
            "alertas": server.admin.get(f"{M}/{meter}/alertas").json,
            "comandos": server.admin.get(f"{M}/{meter}/comandos").json,
            "leituras": every_reading(server, meter),
        }
    for meter in seen["medidores"]["medidores"]:
        if meter.get("id_blip") is not None:
            blip = meter["id_blip"]
            seen[meter["id"]]["pulsos"] = [server.client().get(f"{path}?chave={ADMIN}").json
                                           for path in (f"/since/{blip}/0", f"/last/{blip}")]
    return seen


def demo_store(db: Path) -> None:
    """db.json.example as `make demo` starts from (three meters, 45 days of history, tariffs,
    flags), and what a running server adds to it: a two-way meter in a site, a meter deleted and
    made again (its old stream deleted, the new one `galpao~1`), a pending command, alerts, and
    every closed cycle's invoice issued (recorded when the server stops)."""
    shutil.copyfile(ROOT / "db.json.example", db)
    with running(db) as server:
        assert server.admin.post("/api/v1/sites", {"id": "casa-solar", "nome": "Casa solar",
                                                   "ligacao": "bifasica"}).status == 201
        write, _ = server.create_meter("rede-solar", categoria="gridNet", site="casa-solar", dia_leitura=5)
        send(server, write, "rede-solar", net_meter_readings(3_000))  # 10 days
        first, _ = server.create_meter("galpao")
        send(server, first, "galpao", household(1, 100))
        assert server.admin.delete(f"{M}/galpao").status == 204
        again, read = server.create_meter("galpao", dia_leitura=10, limite_alerta_kwh=100)
        send(server, again, "galpao", household(1, 3_000))  # the same seqs, in the new stream
        assert server.client(read).post(f"{M}/galpao/comandos", {"comando": "limite", "valor": 5}).status == 202
        write, _ = server.create_meter("contador", pulsos_por_kwh=1000)
        send(server, write, "contador", with_pulses(household(1, 400, step_min=1), per=5))
        for _ in range(3):
            reply = server.client().call("POST", "/log/store", raw=SENSOR_LINE, headers={"Content-Type": "text/plain"})
            assert reply.status == 200, reply.body
        view(server)  # issues every closed cycle's invoice


def migrate(*argv: str) -> int:
    return main(["migrar", *argv, "--silencioso"])


def test_the_demo_store_goes_to_postgresql_and_back_with_the_same_invoices(tmp_path, capsys):
    source = tmp_path / "origem" / "db.json"
    source.parent.mkdir()
    demo_store(source)
    with running(source) as server:
        before = view(server)
    assert before["casa-silva"]["por_ciclo"]["2026-10"]["situacao"] == "fechada"
    assert before["galpao"]["faturas"]["faturas"] and before["rede-solar"]["dias"]["consumo"]
    assert len(before["contador"]["pulsos"][0]) == 2_000 and before["eventos"][0] == 3
    capsys.readouterr()

    with postgres.fresh_schema() as url:
        assert migrate("--de", str(source), "--para", url) == 0
        out = capsys.readouterr().out
        assert "migração concluída e conferida" in out and "DIFERENTE" not in out
        assert "galpao~1" in out and "fluxos apagados: 2, apagados também no destino" in out  # galpao, its export stream
        docs, readings = open_postgres(url)
        assert readings.is_deleted("galpao") and readings.count("galpao~1") == 3_000
        on_postgres = start_server(docs, readings, None)
        try:
            assert differences(view(on_postgres), before) == []
        finally:
            stop_server(on_postgres)

        back = tmp_path / "volta" / "db.json"
        assert migrate("--de", url, "--para", str(back)) == 0
        assert "migração concluída e conferida" in capsys.readouterr().out
    with running(back) as server:
        assert differences(view(server), before) == []


def _run_until_progress(argv: list[str], stop: signal.Signals, phase: str) -> subprocess.CompletedProcess:
    """`servidor migrar` in a process of its own, sent `stop` once it reports progress in `phase`
    (while it copies: the copy outlasts the report by many pages)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONUNBUFFERED"] = "1"
    child = subprocess.Popen([sys.executable, "-m", "servidor", "migrar", *argv], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(60, child.kill)  # a hung child fails the test instead of hanging it
    timer.start()
    try:
        err = []
        for line in child.stderr:
            err.append(line)
            if line.startswith(phase):
                child.send_signal(stop)
                break
        out, rest = child.communicate()
    finally:
        timer.cancel()
    return subprocess.CompletedProcess(child.args, child.returncode, out, "".join(err) + rest)


def test_an_interrupted_copy_continues_where_it_stopped_and_stores_each_reading_once(tmp_path, capsys):
    source = tmp_path / "db.json"
    with running(source) as server:
        write, _ = server.create_meter("casa", dia_leitura=10)
        send(server, write, "casa", household(1, 12_000))
        loja, read = server.create_meter("loja")
        assert server.client(read).post(f"{M}/loja/comandos", {"comando": "pausar"}).status == 202
        history = with_pulses(household(1, 2_000), per=10)
        send(server, loja, "loja", history)  # takes the command: an emptied table
    argv = ["--de", str(source), "--lote", "200"]
    with postgres.fresh_schema() as url:
        killed = _run_until_progress([*argv, "--para", url], signal.SIGKILL, "copiando leituras:")
        assert killed.returncode == -signal.SIGKILL
        docs, readings = open_postgres(url, listen=False)
        blinks, events = docs.side_stores(FEATURE_WIDTH)
        try:
            assert 0 < readings.count("casa") < 12_000  # stopped mid-copy
            assert main(["--banco", url, "--porta", "0"]) == 4  # no server on half the readings
            assert "ainda não terminou" in capsys.readouterr().err

            stopped = _run_until_progress([*argv, "--para", url], signal.SIGINT, "copiando pulsos:")
            assert stopped.returncode == 130, stopped.stderr
            assert "rode o mesmo comando para continuar" in stopped.stderr
            assert readings.count("casa") == 12_000 and 0 < blinks.count("loja") < 20_000  # stopped mid-blinks

            with psycopg.connect(url, autocommit=True) as conn:  # someone changes a copied reading
                conn.execute("UPDATE readings SET energy = energy + 1 WHERE stream = 'casa' AND seq = 7")
            assert migrate(*argv, "--para", url) == 1
            found = capsys.readouterr()
            assert "a conferência falhou: 1 fluxo(s) diferem entre origem e destino (casa)" in found.err
            assert [line.split()[0] for line in found.out.splitlines() if line.endswith("DIFERENTE")] == ["casa"]
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("UPDATE readings SET energy = energy - 1 WHERE stream = 'casa' AND seq = 7")

            assert migrate(*argv, "--para", url) == 0
            out = capsys.readouterr().out
            assert "(cópia retomada)" in out and "migração concluída e conferida" in out
            with psycopg.connect(url) as conn:
                rows = conn.execute("SELECT stream, count(*), count(DISTINCT seq) FROM readings GROUP BY stream "
                                    "ORDER BY stream").fetchall()
            assert rows == [("casa", 12_000, 12_000), ("loja", 2_000, 2_000)]  # each reading once
            with ReadingStore.open(readings_dir(source)) as embedded:
                for stream in ("casa", "loja"):
                    assert list(pages(readings, stream)) == list(pages(embedded, stream))
            embedded = BlinkStore.open(blinks_dir(source))
            assert list(blinks.between("loja", 0)) == list(embedded.between("loja", 0))  # each blink once
            assert blinks.watermark("loja") == embedded.watermark("loja") == 2_000
        finally:
            for store in (blinks, events, readings, docs):
                store.close()
        assert migrate(*argv, "--para", url) == 1  # finished: never copied over again
        assert "já foi concluída e conferida" in capsys.readouterr().err
        server = start_server(*open_postgres(url), None)
        try:  # an agent sending part of its backlog again, after the move: nothing is stored twice
            reply = server.client(loja).post(f"{M}/loja/leituras", {"leituras": history[100:110]})
            assert reply.status == 200 and reply.json["duplicadas"] == 10, reply.body
            stats = server.admin.get(f"{M}/loja").json["resumo"]
            assert stats["leituras"] == 2_000
        finally:
            stop_server(server)
        docs, readings = open_postgres(url, listen=False)
        blinks, events = docs.side_stores(FEATURE_WIDTH)
        assert blinks.count("loja") == 20_000 and readings.count("loja") == 2_000
        for store in (blinks, events, readings, docs):
            store.close()


@pytest.mark.parametrize("argv, code, says", [
    (["--de", "db.json", "--para", "outro.json"], 2, "um dos lados deve ser um PostgreSQL"),
    (["--de", UNREACHABLE, "--para", "postgresql://x@y/z"], 2, "pg_dump"),
    (["--de", "db.json", "--para", "mysql://x@y/z"], 2, "use o caminho de um db.json ou uma URL postgresql://"),
    (["--de", "ORIGEM", "--para", "postgresql://x@y:5432/z?nada=1"], 2, "URL do PostgreSQL inválida"),
    (["--de", "ORIGEM", "--para", UNREACHABLE], 4, "não foi possível conectar ao PostgreSQL"),
    (["--de", "inexistente.json", "--para", UNREACHABLE], 2, "não existe"),
    (["--de", "ORIGEM", "--para", UNREACHABLE, "--lote", "0"], 2, "--lote deve ser pelo menos 1"),
])
def test_bad_ends_are_refused_before_anything_is_written(tmp_path, capsys, argv, code, says):
    source = tmp_path / "db.json"
    if "ORIGEM" in argv or "db.json" in argv:
        with running(source) as server:
            server.create_meter("casa")
    argv = [str(source) if a == "ORIGEM" else str(tmp_path / a) if a.endswith(".json") else a for a in argv]
    assert migrate(*argv) == code
    assert says in capsys.readouterr().err
    assert not (tmp_path / "outro.json").exists()


def test_a_store_a_running_server_holds_is_refused(tmp_path, capsys):
    source = tmp_path / "db.json"
    with running(source) as server:
        server.create_meter("casa")
    lock = DirectoryLock(readings_dir(source), durable=False)  # as the running server holds it
    try:
        assert migrate("--de", str(source), "--para", UNREACHABLE) == 4
        assert "está rodando: pare-o antes" in capsys.readouterr().err
    finally:
        lock.release()


def test_a_destination_holding_other_data_is_refused_and_left_alone(tmp_path, capsys):
    source = tmp_path / "origem" / "db.json"
    source.parent.mkdir()
    with running(source) as server:
        write, _ = server.create_meter("casa")
        send(server, write, "casa", household(1, 10))
    other = tmp_path / "outro" / "db.json"
    other.parent.mkdir()
    with running(other) as server:
        server.create_meter("loja")
    kept = other.read_text()
    with postgres.fresh_schema() as url:
        docs, readings = open_postgres(url, listen=False)
        try:
            docs.upsert("medidores", "id", {"id": "loja", "nome": "Loja"})
            assert migrate("--de", str(source), "--para", url) == 1
            assert "não está vazio" in capsys.readouterr().err
            assert readings.meters() == [] and docs.table_names() == ["medidores"]

            assert migrate("--de", url, "--para", str(other)) == 1  # an embedded store in use, too
            assert "não está vazio" in capsys.readouterr().err
            assert other.read_text() == kept

            docs.delete("medidores", "id", "loja")  # now: the unfinished copy of another store
            docs.upsert("migracao", "id", {"id": "migracao", "origem": "/outra/db.json", "estado": "copiando"})
            assert migrate("--de", str(source), "--para", url) == 1
            assert "recebe uma cópia de /outra/db.json" in capsys.readouterr().err

            server = start_server(*open_postgres(url), None)  # a server on the database, listening
            try:
                deadline = time.monotonic() + 10
                while not readings.servers_listening() and time.monotonic() < deadline:
                    threading.Event().wait(0.05)
                assert migrate("--de", url, "--para", str(tmp_path / "novo" / "db.json")) == 4
                assert "1 servidor(es) usam" in capsys.readouterr().err
            finally:
                stop_server(server)
        finally:
            readings.close()
            docs.close()
    assert not (tmp_path / "novo" / "db.json").exists()


def test_a_server_does_not_start_on_a_db_json_whose_copy_is_unfinished(tmp_path, capsys):
    db = tmp_path / "db.json"
    with running(db) as server:
        server.create_meter("casa")
    docs = DocumentStore.open(db)  # as `servidor migrar` leaves it when stopped midway
    docs.upsert("migracao", "id", {"id": "migracao", "origem": "postgresql://db:5432/monitor (esquema public)",
                                   "estado": "copiando", "iniciada_em": "2026-11-30T10:00:00Z"})
    docs.close()
    assert main(["--db", str(db), "--porta", "0"]) == 4
    assert "recebe uma cópia de postgresql://db:5432/monitor (esquema public)" in capsys.readouterr().err


def test_a_store_with_documents_and_no_readings_yet_is_copied(tmp_path, capsys):
    """db.json.example as it ships: meters and tariffs, nothing measured (the summary once failed here)."""
    source = tmp_path / "db.json"
    shutil.copyfile(ROOT / "db.json.example", source)
    with postgres.fresh_schema() as url:
        assert migrate("--de", str(source), "--para", url) == 0
        out = capsys.readouterr().out
        assert "leituras por fluxo" in out and "(nenhum)" in out and "migração concluída e conferida" in out
        docs, readings = open_postgres(url, listen=False)
        try:
            assert len(docs.all("medidores")) == len(json.loads(source.read_text())["medidores"])
        finally:
            readings.close()
            docs.close()
