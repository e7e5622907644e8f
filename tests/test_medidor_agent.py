"""The agent against a real `servidor` on port 0: registration, backfill, an outage, commands."""
from __future__ import annotations

import faulthandler
import json
import shutil
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from medidor.agent import Agent
from shared.backoff import Backoff
from medidor.config import AgentConfig
from medidor.spool import Spool
from medidor.state import AgentState, StateFile
from shared.models import parse_timestamp_ms
from servidor.api.legacy import body_until_close
from servidor.app import CORS, App, Settings, readings_dir
from servidor.api.envelope import error_response
from servidor.net import HttpServer
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from tests.conftest import ADMIN, REGISTRATION, Api

# Generous bounds for a loaded 2-core machine: the conditions are normally met in well under 1 s.
WAIT_S = 30.0


class Server:
    """A real server over stores in `directory`; `stop` and `start` again on the same port."""

    def __init__(self, directory: Path, wrap: Callable[[Callable], Callable] | None = None) -> None:
        """`wrap(handler)` may return a handler that misbehaves before delegating (5xx, delays)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.wrap = wrap
        self.db = directory / "db.json"
        self.port = 0
        self.http: HttpServer | None = None
        self.app: App | None = None

    def start(self) -> "Server":
        docs = DocumentStore.open(self.db)
        store = ReadingStore.open(readings_dir(self.db))
        self.app = App(docs, store, Settings(admin_key=ADMIN, registration_key=REGISTRATION), announce=lambda _: None)
        handler = self.app.handle if self.wrap is None else self.wrap(self.app.handle)
        self.http = HttpServer(handler, "127.0.0.1", self.port, workers=4, body_until_close=body_until_close,
                               error_response=error_response, default_headers=CORS)
        self.http.start()
        self.app.start()
        self.port = self.http.address[1]
        return self

    def stop(self) -> None:
        assert self.http is not None and self.app is not None
        self.http.shutdown()
        self.app.close()
        self.http = self.app = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
    if running.http is not None:
        running.stop()


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


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    # Where every thread is stuck is what a timeout on a loaded machine needs explaining.
    faulthandler.dump_traceback(all_threads=True)
    raise AssertionError(f"timed out waiting for {what}")


def config(tmp_path: Path, server: Server, **overrides: Any) -> AgentConfig:
    base = AgentConfig(medidor="casa-1", servidor=server.url, estado=tmp_path / "agente", chave_registro=REGISTRATION,
                       intervalo_s=0.1, semente=7)
    return replace(base, **overrides)


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
    # An admin sets the tariff; the agent's PUT on restart must keep it.
    api = server.admin()
    assert api.post("/api/v1/tarifas", {"id": "verde", "nome": "Verde", "preco_kwh": 0.9}).status in (200, 201)
    current = server.meter("casa-1")
    body = {k: current[k] for k in ("nome", "categoria", "fuso", "limite_alerta_kwh", "multiplicador", "estado",
                                    "silencio_s")}
    assert api.put("/api/v1/medidores/casa-1", {**body, "tarifa": "verde"}).status == 200
    api.close()

    run = Running(replace(cfg, multiplicador=2.0, chave_registro=None))
    count = len(server.readings("casa-1"))
    wait_for(lambda: len(server.readings("casa-1")) >= count + 3, "readings after restart")
    run.stop()
    again = StateFile(cfg.estado).load()
    assert again is not None and again.chave_escrita == keys.chave_escrita
    meter = server.meter("casa-1")
    assert meter["multiplicador"] == 2.0 and meter["tarifa"] == "verde"
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
    server.start()  # same store, same port
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


def test_commands_pause_and_multiplier_arrive_and_apply(tmp_path: Path, server: Server) -> None:
    cfg = config(tmp_path, server)
    run = Running(cfg)
    wait_for(lambda: len(server.readings("casa-1")) >= 2, "first readings")
    api = server.admin()
    assert api.post("/api/v1/medidores/casa-1/comandos", {"comando": "multiplicador", "valor": 3}).status == 202
    assert api.post("/api/v1/medidores/casa-1/comandos", {"comando": "limite", "valor": 42}).status == 202
    assert api.post("/api/v1/medidores/casa-1/comandos", {"comando": "pausar"}).status == 202
    api.close()
    wait_for(lambda: run.agent.paused, "pause applied")
    assert run.agent.multiplier == 3.0
    assert any("limite de alerta 42" in m for m in run.messages)
    assert run.agent.spool is not None
    wait_for(lambda: run.agent.spool.pending == 0, "sent")
    paused_at = run.agent.next_seq
    time.sleep(0.5)
    assert run.agent.next_seq == paused_at  # nothing measured while paused
    api = server.admin()
    assert api.post("/api/v1/medidores/casa-1/comandos", {"comando": "retomar"}).status == 202
    api.close()
    # A paused agent sends no readings, so `retomar` comes from polling the command queue.
    wait_for(lambda: not run.agent.paused, "resume applied")
    wait_for(lambda: run.agent.next_seq > paused_at + 2, "measuring again")
    run.stop()
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
