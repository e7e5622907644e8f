"""Alerts POSTed to a meter's webhook (issue 14 #9) against a real receiver on port 0: delivered,
retried with backoff, given up on a refusal, never blocking ingest, bounded, and no secret of
the URL in the logs."""
from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from servidor.app import readings_dir
from servidor.notify.webhooks import WebhookSender, safe_url
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from shared.backoff import Backoff
from tests.conftest import start_server, stop_server

M = "/api/v1/medidores"
SECRET_PATH = "/ganchos/T0K3N-SECRETO"
WAIT_S = 30.0


class Receiver:
    """A real HTTP peer (the standard library's server: the test's, not the product's) that
    answers `statuses` in turn (then 200), or holds each request until `release` is set."""

    def __init__(self, statuses: list[int] | None = None, hold: bool = False) -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.statuses = list(statuses or [])
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.arrived:
                    receiver.paths.append(self.path)
                    receiver.bodies.append(json.loads(body))
                    receiver.arrived.notify_all()
                receiver.release.wait(WAIT_S)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}?token=abc123"

    def wait_for(self, count: int) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.bodies) >= count, WAIT_S), self.bodies

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def fast_sender(**options) -> WebhookSender:
    options.setdefault("backoff", lambda: Backoff(0.01, 0.05))
    sender = WebhookSender(**options)
    sender.start()
    return sender


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_an_alert_that_opens_is_posted_to_the_meters_webhook_and_the_url_stays_out_of_logs(
        tmp_path: Path, receiver: Receiver, caplog):
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "db.json"
    running = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db, webhooks=True)
    try:
        write, _ = running.create_meter("casa", limite_alerta_kwh=1, webhook_url=receiver.url)
        now = int(time.time() * 1000)
        agent = running.client(write)
        assert agent.post(f"{M}/casa/leituras", {"leituras": [
            {"seq": 1, "ts": now - 60_000, "energia_wh": 0}, {"seq": 2, "ts": now - 1000, "energia_wh": 1500}]}).status == 200
        receiver.wait_for(1)
        [alert] = receiver.bodies
        assert alert["tipo"] == "limite_excedido" and alert["medidor"] == "casa"
        assert alert == running.admin.get(f"{M}/casa/alertas").json["alertas"][0]
        assert receiver.paths == [f"{SECRET_PATH}?token=abc123"]
        assert running.admin.get(f"{M}/casa").json["webhook_url"] == receiver.url
        # The same cause seen again is no new alert, so nothing more is sent.
        agent.post(f"{M}/casa/leituras", {"seq": 3, "ts": now, "energia_wh": 1600})
    finally:
        stop_server(running)
    assert len(receiver.bodies) == 1
    assert "T0K3N" not in caplog.text and "abc123" not in caplog.text
    assert "webhook entregue a http://127.0.0.1:" in caplog.text


def test_a_failing_receiver_is_retried_with_backoff_until_it_takes_the_alert():
    receiver = Receiver(statuses=[503, 500, 429])
    sender = fast_sender()
    try:
        assert sender.send(receiver.url, {"id": "a1"}, "alerta de teste")
        wait_until(lambda: sender.delivered == 1, "delivered")
        assert [b["id"] for b in receiver.bodies] == ["a1"] * 4 and sender.failed == 0
    finally:
        sender.stop()
        receiver.close()


def test_a_refusal_is_not_retried_and_an_unreachable_receiver_is_given_up(caplog):
    receiver = Receiver(statuses=[404])
    sender = fast_sender(max_attempts=3)
    try:
        sender.send(receiver.url, {"id": "a1"}, "alerta de teste")
        wait_until(lambda: sender.failed == 1, "refused")
        assert len(receiver.bodies) == 1
        receiver.close()
        sender.send(receiver.url, {"id": "a2"}, "alerta de teste")  # nobody listens there now
        wait_until(lambda: sender.failed == 2, "given up")
    finally:
        sender.stop()
    assert "desistido depois de 3 tentativas" in caplog.text and "T0K3N" not in caplog.text


def test_ingest_never_waits_for_a_stuck_receiver_and_the_queue_is_bounded(tmp_path: Path):
    receiver = Receiver(hold=True)
    sender = fast_sender(max_queued=2)
    try:
        assert sender.send(receiver.url, {"id": "1"}, "a")
        receiver.wait_for(1)  # the thread is now stuck in the first delivery
        assert sender.send(receiver.url, {"id": "2"}, "a") and sender.send(receiver.url, {"id": "3"}, "a")
        assert not sender.send(receiver.url, {"id": "4"}, "a")
        assert sender.dropped == 1 and sender.pending() == 2
        receiver.release.set()
        wait_until(lambda: sender.delivered == 3, "the three queued")
        assert [b["id"] for b in receiver.bodies] == ["1", "2", "3"]
    finally:
        sender.stop()
        receiver.close()
    # Through the server: readings are answered while the receiver holds the alert's delivery.
    stuck = Receiver(hold=True)
    db = tmp_path / "db.json"
    running = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db, webhooks=True)
    try:
        write, _ = running.create_meter("casa", limite_alerta_kwh=1, webhook_url=stuck.url)
        now = int(time.time() * 1000)
        agent = running.client(write)
        agent.post(f"{M}/casa/leituras", {"leituras": [{"seq": 1, "ts": now - 60_000, "energia_wh": 0},
                                                      {"seq": 2, "ts": now - 2000, "energia_wh": 1500}]})
        stuck.wait_for(1)
        for seq in range(3, 13):
            assert agent.post(f"{M}/casa/leituras", {"seq": seq, "ts": now - 1000 + seq, "energia_wh": 1500 + seq}).status == 200
    finally:
        stuck.release.set()
        stop_server(running)
        stuck.close()


def test_stopping_cuts_a_long_retry_wait_short():
    receiver = Receiver(statuses=[503] * 5)
    sender = fast_sender(backoff=lambda: Backoff(300.0, 300.0))
    try:
        sender.send(receiver.url, {"id": "a1"}, "a")
        receiver.wait_for(1)
        stopper = threading.Thread(target=sender.stop)
        stopper.start()
        stopper.join(WAIT_S)
        assert not stopper.is_alive()
    finally:
        receiver.close()


def test_webhook_urls_are_validated(servidor):
    servidor.create_meter("casa")
    base = {"nome": "Casa"}
    for bad in ("ftp://x/y", "http://", "javascript:alert(1)", "http://a b", "http://h:99999/", 5, "x" * 3000):
        reply = servidor.admin.put(f"{M}/casa", {**base, "webhook_url": bad})
        assert reply.status == 422 and "webhook_url" in reply.json["erro"]["mensagem"], bad
    for good in ("https://hooks.example.com/services/T/B/X", "http://192.0.2.7:8123/api/webhook/abc", None):
        assert servidor.admin.put(f"{M}/casa", {**base, "webhook_url": good}).json["webhook_url"] == good


def test_safe_url_keeps_only_scheme_host_and_port():
    assert safe_url("https://user:pw@hooks.example.com:8443/s/T0K3N?x=1#f") == "https://hooks.example.com:8443/…"
    assert safe_url("http://[::1]/a") == "http://::1/…"
