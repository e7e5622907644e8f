"""Several `servidor` processes on one PostgreSQL database give the answers of one.

Real subprocesses on port 0, real HTTP agents, a real database; one server is killed with
SIGKILL in the middle of the run and started again. Every reading a server acknowledged must be
stored exactly once, whichever server took it."""
from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

import pytest

from tests import postgres
from tests.server_process import ADMIN, ServerProcess, start

pytestmark = pytest.mark.slow

M = "/api/v1/medidores"
AGENTS = 8
BATCH = 20
# Long enough for the kill to land mid-run on a loaded 2-core machine, short enough for CI.
RUN_S = 6.0


def call(port: int, method: str, path: str, body=None, key: str = ADMIN, timeout: float = 10.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        reply = conn.getresponse()
        payload = reply.read()
        return reply.status, (json.loads(payload) if payload else None)
    finally:
        conn.close()


def stored_seqs(port: int, meter: str, key: str) -> list[int]:
    """Every stored seq of a meter, page after page, as a user of the API would list them."""
    seqs, path = [], f"{M}/{meter}/leituras?limite=10000"
    while path:
        body = call(port, "GET", path, key=key)[1]
        seqs += [r["seq"] for r in body["leituras"]]
        path = body.get("proxima_pagina")
    return seqs


def serve(db: Path, url: str) -> ServerProcess:
    return start(db, "--banco", url)


class Agent(threading.Thread):
    """Posts batches of one meter, alternating servers; a batch that gets no answer goes to the
    other server, as the medidor spool would resend it. Records what was acknowledged."""

    def __init__(self, meter: str, key: str, ports: list[int], stop: threading.Event) -> None:
        super().__init__(name=f"agente-{meter}")
        self.meter, self.key, self.ports, self.stop_flag = meter, key, ports, stop
        self.acknowledged: set[int] = set()
        self.failures = 0
        self.seq, self.energy = 0, 0.0

    def run(self) -> None:
        start_ms = int(time.time() * 1000) - 3_600_000
        turn = 0
        while not self.stop_flag.is_set():
            batch = []
            for _ in range(BATCH):
                self.seq += 1
                self.energy += 1.5
                batch.append({"seq": self.seq, "ts": start_ms + self.seq * 100, "energia_wh": self.energy})
            while True:  # resend the same batch until some server acknowledges it
                port = self.ports[turn % len(self.ports)]
                turn += 1
                try:
                    status, body = call(port, "POST", f"{M}/{self.meter}/leituras", {"leituras": batch}, self.key, 5.0)
                except OSError:
                    self.failures += 1
                    time.sleep(0.05)
                    continue
                if status == 200:
                    self.acknowledged.update(r["seq"] for r in batch)
                    break
                self.failures += 1
                time.sleep(0.05)


def test_two_servers_one_killed_lose_nothing_and_share_meters_keys_and_live_polls(tmp_path: Path):
    with postgres.fresh_schema() as url:
        a, b = serve(tmp_path / "a.json", url), serve(tmp_path / "b.json", url)
        try:
            # A meter (and its keys) made through A works through B.
            keys = {}
            for n in range(AGENTS):
                status, body = call(a.port, "POST", M, {"id": f"m{n}", "nome": f"m{n}"})
                assert status == 201, body
                keys[f"m{n}"] = (body["chave_escrita"], body["chave_leitura"])
            write0, read0 = keys["m0"]
            assert call(b.port, "GET", f"{M}/m0", key=read0)[0] == 200

            # A long poll waiting on A is answered by a reading ingested through B.
            answer: list = []
            poll = threading.Thread(target=lambda: answer.append(
                call(a.port, "GET", f"{M}/m0/ao-vivo?apos=0&espera=20", key=read0, timeout=30)))
            poll.start()
            time.sleep(1.0)
            started = time.monotonic()
            assert call(b.port, "POST", f"{M}/m0/leituras",
                        {"seq": 1, "ts": int(time.time() * 1000) - 7_200_000, "energia_wh": 0.0}, write0)[0] == 200
            poll.join(30)
            assert answer and answer[0][0] == 200 and [r["seq"] for r in answer[0][1]["leituras"]] == [1]
            assert time.monotonic() - started < 10

            # Eight agents spread over both servers; A is killed mid-run and started again.
            stop = threading.Event()
            ports = [a.port, b.port]
            agents = [Agent(m, keys[m][0], ports, stop) for m in keys]
            agents[0].seq, agents[0].energy = 1, 0.0  # m0 already holds seq 1 (0 Wh)
            for agent in agents:
                agent.start()
            time.sleep(RUN_S / 2)
            a.kill()
            time.sleep(1.0)
            a = serve(tmp_path / "a.json", url)
            ports[0] = a.port
            time.sleep(RUN_S / 2)
            stop.set()
            for agent in agents:
                agent.join(60)
            assert sum(agent.failures for agent in agents) > 0  # the kill did cost some answers
            assert all(len(agent.acknowledged) >= 5 * BATCH for agent in agents)

            for agent in agents:
                expected = agent.acknowledged | ({1} if agent.meter == "m0" else set())
                for port in (a.port, b.port):
                    meter = call(port, "GET", f"{M}/{agent.meter}", key=keys[agent.meter][1])[1]
                    assert meter["resumo"]["leituras"] == len(expected), agent.meter
                seqs = stored_seqs(b.port, agent.meter, keys[agent.meter][1])
                assert len(seqs) == len(expected) and set(seqs) == expected, agent.meter
        finally:
            for server in (a, b):
                server.stop()


def test_an_agent_with_two_servers_moves_to_the_other_when_its_server_dies(tmp_path: Path):
    from medidor.config import AgentConfig
    from medidor.spool import Spool
    from tests.medidor_harness import Running, wait_for

    with postgres.fresh_schema() as url:
        a, b = serve(tmp_path / "a.json", url), serve(tmp_path / "b.json", url)
        run = None
        try:
            config = AgentConfig(medidor="casa", servidor=f"http://127.0.0.1:{a.port}",
                                 servidores_reserva=(f"http://127.0.0.1:{b.port}",), estado=tmp_path / "agente",
                                 chave_registro="registro-do-subprocesso", intervalo_s=0.1)
            run = Running(config)
            wait_for(lambda: run.agent.next_seq >= 5 and run.agent.spool.pending == 0, "readings through A")
            a.kill()
            mark = run.agent.next_seq
            wait_for(lambda: run.agent.next_seq >= mark + 10 and run.agent.spool.pending == 0,
                     "readings through B after A died")
            run.stop()
            run = None
            with Spool(config.estado / "spool") as spool:
                last_seq = spool.last_seq
            _, body = call(b.port, "POST", M, {"id": "x", "nome": "x"})  # the admin key works on B as well
            assert body["id"] == "x"
            meter = call(b.port, "GET", f"{M}/casa")[1]
            assert meter["resumo"]["leituras"] == last_seq + 1
            assert sorted(stored_seqs(b.port, "casa", ADMIN)) == list(range(last_seq + 1))
        finally:
            if run is not None:
                run.stop()
            for server in (a, b):
                server.stop()
