"""The sender against a real server, some of it misbehaving: 5xx, slowness, a deleted meter,
rejected readings, duplicates; batches of up to 1000, oldest first."""
from __future__ import annotations

import json
import socket
import threading
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from shared.backoff import Backoff
from medidor.sender import KeyStore, MeterFields, Sender
from medidor.server_api import MeterApi, reading_payload
from medidor.spool import Spool, SpoolRecord
from medidor.status import StatusBoard
from shared.http.messages import Request, Response
from shared.contract import error_body
from tests.medidor_harness import WAIT_S, Server, wait_for

T0 = 1_790_000_000_000  # 2026-09-21, safely in the server's past


def record(seq: int, **extra: Any) -> SpoolRecord:
    doc = {"seq": seq, "ts": T0 + seq * 10_000, "energia_wh": 1000.0 + seq, "potencia_w": 360.0, **extra}
    return SpoolRecord(seq, reading_payload(doc))


class Harness:
    def __init__(self, tmp_path: Path, wrap: Callable | None = None) -> None:
        self.server = Server(tmp_path / "srv", wrap).start()
        api = self.server.admin()
        reply = api.post("/api/v1/medidores", {"id": "m1"})
        api.close()
        assert reply.status == 201
        self.write_key = reply.json["chave_escrita"]
        self.spool = Spool(tmp_path / "spool")
        self.status = StatusBoard("m1")
        self.commands: list[Any] = []
        self.sender: Sender | None = None

    def start(self, **options: Any) -> Sender:
        options.setdefault("backoff", Backoff(0.01, 0.05))
        self.sender = Sender(api=MeterApi(self.server.url, "m1", timeout=options.pop("timeout", 15.0)),
                             spool=self.spool, keys=KeyStore(lambda: self.write_key, lambda keys: None),
                             fields=lambda: MeterFields("m1", "gridImport", "America/Sao_Paulo", 500.0, 1.0),
                             registration_key=None, status=self.status, state_hint="estado.json",
                             on_commands=self.commands.extend, **options)
        self.sender.start()
        return self.sender

    def close(self) -> None:
        if self.sender is not None:
            self.sender.stop()
            self.sender.join(30)
            assert not self.sender.is_alive()
        self.spool.close()
        self.server.close()


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def build(wrap: Callable | None = None) -> Harness:
        made.append(Harness(tmp_path, wrap))
        return made[-1]

    yield build
    for harness in made:
        harness.close()


def seqs_on_server(h: Harness) -> list[int]:
    return [r["seq"] for r in h.server.readings("m1")]


def test_backlog_goes_oldest_first_in_batches_of_at_most_1000_on_one_connection(
        make: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    connects: list[str] = []
    real_connect = socket.create_connection

    def counting(*args: Any, **kwargs: Any) -> socket.socket:
        if threading.current_thread().name.startswith("envio-"):
            connects.append(threading.current_thread().name)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counting)

    def spy(handler: Callable) -> Callable:
        def wrapped(request: Request) -> Any:
            if request.method == "POST" and request.path.endswith("/leituras"):
                sizes.append(len(json.loads(request.body)["leituras"]))
            return handler(request)
        return wrapped

    h = make(spy)
    h.spool.append([record(i) for i in range(2500)])
    sender = h.start()
    wait_for(lambda: h.spool.pending == 0, "backlog sent")
    assert sizes == [1000, 1000, 500]
    assert sender.requests == 3
    assert len(connects) == 1  # GET + PUT + 3 batches over one kept-alive connection
    assert seqs_on_server(h) == list(range(2500))


def test_5xx_is_retried_until_the_server_accepts(make: Callable[..., Harness]) -> None:
    failures = {"left": 3}

    def flaky(handler: Callable) -> Callable:
        def wrapped(request: Request) -> Any:
            if request.path.endswith("/leituras") and failures["left"] > 0:
                failures["left"] -= 1
                return Response(HTTPStatus.SERVICE_UNAVAILABLE, (("content-type", "application/json"),),
                                json.dumps(error_body("ocupado", "tente depois")).encode())
            return handler(request)
        return wrapped

    h = make(flaky)
    h.spool.append([record(i) for i in range(10)])
    h.start()
    wait_for(lambda: h.spool.pending == 0, "accepted after the 503s")
    assert failures["left"] == 0
    assert seqs_on_server(h) == list(range(10))
    assert h.status.snapshot().servidor == "conectado"


def test_a_slow_answer_times_out_and_the_resend_is_acked_as_duplicate(make: Callable[..., Harness]) -> None:
    resent = threading.Event()
    posts = {"count": 0}

    def sluggish(handler: Callable) -> Callable:
        def wrapped(request: Request) -> Any:
            answer = handler(request)  # stored…
            if request.path.endswith("/leituras"):
                posts["count"] += 1
                if posts["count"] == 1:
                    # …but answered only once the client gave up and sent the batch again.
                    assert resent.wait(WAIT_S), "the client never resent the batch"
                else:
                    resent.set()
            return answer
        return wrapped

    h = make(sluggish)
    h.spool.append([record(i) for i in range(5)])
    h.start(timeout=0.5)
    wait_for(lambda: h.spool.pending == 0, "acked on the resend")
    assert resent.is_set()
    assert seqs_on_server(h) == list(range(5))


def test_rejected_readings_are_dropped_the_rest_stored(make: Callable[..., Harness],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    h = make()
    h.spool.append([record(0), record(1, XYZ=1), record(2)])
    h.start()
    wait_for(lambda: h.spool.pending == 0, "batch acked")
    assert seqs_on_server(h) == [0, 2]
    assert any("seq 1 recusada" in r.getMessage() for r in caplog.records)


def test_batch_of_only_invalid_readings_is_dropped_loudly(make: Callable[..., Harness],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    h = make()
    h.spool.append([record(0, XYZ=1), record(1, XYZ=2)])
    h.start()
    wait_for(lambda: h.spool.pending == 0, "dropped")
    assert any("recusadas e descartadas" in r.getMessage() for r in caplog.records)


def test_deleted_meter_keeps_the_spool_and_says_what_to_do(make: Callable[..., Harness]) -> None:
    h = make()
    api = h.server.admin()
    assert api.delete("/api/v1/medidores/m1").status == 204
    api.close()
    h.spool.append([record(0)])
    h.start()
    wait_for(lambda: "não existe no servidor" in h.status.snapshot().servidor or "recusado" in h.status.snapshot().servidor,
             "the refusal on the status line")
    assert h.spool.pending == 1


def test_commands_in_the_answer_are_handed_to_the_agent(make: Callable[..., Harness]) -> None:
    h = make()
    api = h.server.admin()
    assert api.post("/api/v1/medidores/m1/comandos", {"comando": "multiplicador", "valor": 2.5}).status == 202
    api.close()
    h.spool.append([record(0)])
    h.start()
    wait_for(lambda: bool(h.commands), "command delivered")
    assert (h.commands[0].comando, h.commands[0].valor) == ("multiplicador", 2.5)


def test_stop_while_the_server_is_down_returns_promptly(make: Callable[..., Harness]) -> None:
    h = make()
    h.server.stop()
    h.spool.append([record(i) for i in range(3)])
    sender = h.start()
    wait_for(lambda: "nova tentativa" in h.status.snapshot().servidor, "the first failed attempt")
    started = time.monotonic()
    sender.stop()
    sender.join(10)
    assert not sender.is_alive() and time.monotonic() - started < 5
    assert h.spool.pending == 3  # kept for the next run


def test_new_readings_do_not_shorten_the_backoff_against_a_dead_server(
        make: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch) -> None:
    h = make()
    h.server.stop()
    attempts: list[float] = []
    real_connect = socket.create_connection

    def counting(*args: Any, **kwargs: Any) -> socket.socket:
        if threading.current_thread().name.startswith("envio-"):
            attempts.append(time.monotonic())
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counting)
    sender = h.start(backoff=Backoff(0.4, 0.4))  # each retry 0.2-0.4 s after the last
    seq = 0
    # New readings arrive (and wake the sender) without pause until it has retried 3 times.
    while len(attempts) < 4:
        h.spool.append([record(seq)])
        sender.wake()
        seq += 1
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert min(gaps) >= 0.2 - 0.01, gaps  # the backoff's shortest delay, whatever the wake-ups
    assert seq > 3 * len(attempts)  # it was woken far more often than it tried
    assert h.spool.pending == seq
