"""The agent against a real `servidor` on port 0: registration, backfill, an outage, commands."""
from __future__ import annotations

import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import pytest

from medidor.spool import Spool
from medidor.state import AgentState, StateFile
from shared.http.messages import Request
from shared.models import parse_timestamp_ms
from tests.medidor_harness import WAIT_S, Running, Server, config, server, wait_for  # noqa: F401 (fixture)


def spool_history(state_dir: Path) -> tuple[int | None, int]:
    with Spool(state_dir / "spool") as spool:
        return spool.last_seq, spool.pending


def test_first_run_registers_and_a_restart_updates_with_the_same_keys(tmp_path: Path, server: Server) -> None:
    cfg = config(tmp_path, server, limite_alerta_kwh=321.0, nome="Casa da Ana")
    run = Running(cfg)
    wait_for(lambda: len(server.readings("casa-1")) >= 3, "first readings")
    run.stop()
    keys = StateFile(cfg.estado).load()
    assert keys is not None and keys.chave_escrita and keys.chave_leitura
    meter = server.meter("casa-1")
    assert meter["nome"] == "Casa da Ana" and meter["limite_alerta_kwh"] == 321.0
    # An admin sets the tariff and the billing cycle; the agent's PUT on restart must keep them.
    api = server.admin()
    tariff = {"id": "verde", "nome": "Verde", "versoes": [{"vigencia": "2026-01-01",
                                                           "energia": {"tipo": "unico", "preco": 0.9}}]}
    assert api.post("/api/v1/tarifas", tariff).status in (200, 201)
    current = server.meter("casa-1")
    body = {k: current[k] for k in ("nome", "categoria", "fuso", "limite_alerta_kwh", "multiplicador", "estado",
                                    "silencio_s")}
    changed = {**body, "tarifa": "verde", "dia_leitura": 10, "ligacao": "bifasica"}
    assert api.put("/api/v1/medidores/casa-1", changed).status == 200
    api.close()

    run = Running(replace(cfg, multiplicador=2.0, chave_registro=None))
    count = len(server.readings("casa-1"))
    wait_for(lambda: len(server.readings("casa-1")) >= count + 3, "readings after restart")
    run.stop()
    again = StateFile(cfg.estado).load()
    assert again is not None and again.chave_escrita == keys.chave_escrita
    meter = server.meter("casa-1")
    assert meter["multiplicador"] == 2.0 and meter["tarifa"] == "verde"
    assert meter["dia_leitura"] == 10 and meter["ligacao"] == "bifasica"
    seqs = [r["seq"] for r in server.readings("casa-1")]
    assert seqs == list(range(len(seqs)))


def test_backfill_of_days_arrives_complete_with_a_monotonic_counter(tmp_path: Path, server: Server) -> None:
    cfg = config(tmp_path, server, intervalo_s=60.0, historico_dias=2.0, perfil="comercial")
    run = Running(cfg)
    # 2 days of 1-minute readings is 2880, then real time continues.
    wait_for(lambda: spool_pending(run) == 0 and run.agent.next_seq >= 2880, "backfill sent", 60)
    run.stop()
    rows = server.readings("casa-1")
    seqs = [r["seq"] for r in rows]
    assert seqs == list(range(run.agent.next_seq))
    counters = [r["energia_wh"] for r in rows]
    assert counters == sorted(counters)
    days_kwh = (counters[-1] - counters[0]) / 1000
    assert 30 < days_kwh < 140  # two days of a small shop


def spool_pending(run: Running) -> int:
    spool = run.agent.spool
    return 10**9 if spool is None else spool.pending


def test_outage_mid_run_ends_with_every_reading_stored_exactly_once(tmp_path: Path, server: Server) -> None:
    cfg = config(tmp_path, server)
    run = Running(cfg)
    wait_for(lambda: len(server.readings("casa-1")) >= 5, "readings before the outage")
    server.stop()
    before = run.agent.next_seq
    # Keep measuring with the server gone: readings pile up in the spool.
    wait_for(lambda: run.agent.next_seq >= before + 15, "readings during the outage")
    assert run.agent.spool is not None and run.agent.spool.pending >= 10
    server.start()  # same store, same address
    wait_for(lambda: run.agent.spool.pending == 0 and run.agent.next_seq >= before + 25, "catch-up")
    run.stop()
    last_seq, pending = spool_history(cfg.estado)
    assert pending == 0
    rows = server.readings("casa-1")
    seqs = [r["seq"] for r in rows]
    # Every seq the agent ever spooled, each once.
    assert seqs == list(range(last_seq + 1))
    # The counter-based total the server sees is what the agent measured.
    meter = server.meter("casa-1")
    assert meter["ultima_leitura"]["energia_wh"] == rows[-1]["energia_wh"]
    assert rows[-1]["energia_wh"] >= rows[0]["energia_wh"]


def test_commands_pause_and_multiplier_arrive_and_apply(tmp_path: Path) -> None:
    polls = threading.Semaphore(0)

    def count_polls(handler: Callable) -> Callable:
        def wrapped(request: Request) -> Any:
            answer = handler(request)
            if request.method == "GET" and request.path.endswith("/comandos"):
                polls.release()
            return answer
        return wrapped

    server = Server(tmp_path / "srv", count_polls).start()
    try:
        cfg = config(tmp_path, server)
        run = Running(cfg)
        wait_for(lambda: len(server.readings("casa-1")) >= 2, "first readings")
        api = server.admin()
        assert api.post("/api/v1/medidores/casa-1/comandos", {"comando": "multiplicador", "valor": 3}).status == 202
        assert api.post("/api/v1/medidores/casa-1/comandos", {"comando": "limite", "valor": 42}).status == 202
        assert api.post("/api/v1/medidores/casa-1/comandos", {"comando": "pausar"}).status == 202
        api.close()
        wait_for(lambda: run.agent.controls.paused, "pause applied")
        assert run.agent.controls.multiplier == 3.0
        assert any("limite de alerta 42" in m for m in run.messages)
        assert run.agent.spool is not None
        wait_for(lambda: run.agent.spool.pending == 0, "sent")
        paused_at = run.agent.next_seq
        # A paused agent asks for commands every 2 s: two asks are ≥ 2 s paused, 20 intervals.
        for _ in range(2):
            assert polls.acquire(timeout=WAIT_S), "the paused agent stopped asking for commands"
        assert run.agent.next_seq == paused_at  # nothing measured while paused
        api = server.admin()
        assert api.post("/api/v1/medidores/casa-1/comandos", {"comando": "retomar"}).status == 202
        api.close()
        # A paused agent sends no readings, so `retomar` comes from polling the command queue.
        wait_for(lambda: not run.agent.controls.paused, "resume applied")
        wait_for(lambda: run.agent.next_seq > paused_at + 2, "measuring again")
        run.stop()
    finally:
        server.close()
    applied = [m for m in run.messages if "comando do servidor" in m]
    assert len(applied) == 4  # each command once, though `retomar` is seen twice


def test_state_dir_of_another_meter_is_refused(tmp_path: Path, server: Server) -> None:
    cfg = config(tmp_path, server)
    StateFile(cfg.estado).save(AgentState("outro"))
    run = Running(cfg)
    run.thread.join(WAIT_S)
    assert run.error is not None and "pertence ao medidor outro" in str(run.error)


def test_local_alert_when_the_month_passes_the_limit(tmp_path: Path, server: Server) -> None:
    cfg = config(tmp_path, server, limite_alerta_kwh=1.0, intervalo_s=60.0, historico_dias=1.0)
    run = Running(cfg)
    wait_for(lambda: any("ALERTA" in m for m in run.messages), "local alert")
    run.stop()
    alerts = [m for m in run.messages if "ALERTA" in m]
    assert len(alerts) <= 2  # once per month (a backfilled day may span a month boundary)
    assert "acima do limite de 1,0 kWh" in alerts[0]
    state = json.loads((cfg.estado / "estado.json").read_text())
    assert state["alerta_mes"] is not None


def test_full_spool_warns_raises_an_alert_and_a_simulated_meter_waits_without_gaps(tmp_path: Path,
                                                                                   server: Server) -> None:
    cfg = config(tmp_path, server, max_spool=20)
    run = Running(cfg)
    wait_for(lambda: len(server.readings("casa-1")) >= 2, "first readings")
    server.stop()
    wait_for(lambda: any("SPOOL CHEIO" in m for m in run.messages), "the full-spool message")
    assert any("ATENÇÃO: spool 80% cheio" in m for m in run.messages)
    assert run.agent.spool is not None and run.agent.spool.pending == 20
    server.start()
    wait_for(lambda: run.agent.spool.pending == 0 and run.agent.next_seq >= 40, "drained and measuring")
    run.stop()
    rows = server.readings("casa-1")
    assert [r["seq"] for r in rows] == list(range(len(rows)))
    stamps = [r["ts"] for r in rows]
    gaps = {b - a for a, b in zip(map(parse_timestamp_ms, stamps), map(parse_timestamp_ms, stamps[1:]))}
    assert gaps == {100}  # the simulation waited: no instant skipped
    api = server.admin()
    alerts = api.get("/api/v1/medidores/casa-1/alertas").json["alertas"]
    api.close()
    assert any(a["tipo"] == "spool_cheio" for a in alerts)


def test_a_lost_spool_resumes_above_every_seq_already_used(tmp_path: Path, server: Server) -> None:
    cfg = config(tmp_path, server)
    run = Running(cfg)
    wait_for(lambda: len(server.readings("casa-1")) >= 3, "first readings")
    run.stop()
    used = run.agent.next_seq
    shutil.rmtree(cfg.estado / "spool")  # a wiped disk, the state file restored from a backup
    run = Running(cfg)
    wait_for(lambda: len(server.readings("casa-1")) >= used + 3, "new readings")
    run.stop()
    seqs = [r["seq"] for r in server.readings("casa-1")]
    assert seqs[:used] == list(range(used))
    assert all(s >= used + 1000 for s in seqs[used:])  # jumped past the reservation: nothing answered "duplicate"
    assert len(seqs) >= used + 3


def test_a_failing_disk_drops_the_moment_but_the_agent_carries_on(tmp_path: Path, server: Server,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(tmp_path, server)
    run = Running(cfg)
    wait_for(lambda: len(server.readings("casa-1")) >= 2, "first readings")
    real_append = Spool.append
    failing = {"on": True}

    def append(self: Spool, records: Any) -> None:
        if failing["on"]:
            raise OSError(28, "No space left on device")
        real_append(self, records)

    monkeypatch.setattr(Spool, "append", append)
    wait_for(lambda: any("ERRO ao gravar no disco" in m for m in run.messages), "the disk error message")
    failing["on"] = False
    count = len(server.readings("casa-1"))
    wait_for(lambda: len(server.readings("casa-1")) >= count + 3, "readings after the disk recovers")
    run.stop()
    rows = server.readings("casa-1")
    assert [r["seq"] for r in rows] == list(range(len(rows)))  # no seq was burnt by a failed write
    counters = [r["energia_wh"] for r in rows]
    assert counters == sorted(counters)
