"""HttpClient against real sockets on port 0: keep-alive, reconnects, framing, errors."""
from __future__ import annotations

import select
import socket
import threading
import time
from typing import Callable

import pytest

from shared.http import (
    CONTINUE_BYTES,
    END_OF_STREAM,
    NEED_DATA,
    SEND_CONTINUE,
    Request,
    RequestParser,
    ResponseError,
)
from shared.http_client import HttpClient

# answer(request, index of the request on its connection) -> bytes to write, or None to hang up.
Answer = Callable[[Request, int], "bytes | None"]


def ok(body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body


class Peer:
    """A test HTTP server: parses with RequestParser, writes canned bytes from `answer`.

    With `close_after_answer` it hangs up right after each answer although the answer promised
    keep-alive, which is what a server's idle timeout looks like to the client.
    """

    def __init__(self, answer: Answer, *, close_after_answer: bool = False) -> None:
        self.answer = answer
        self.close_after_answer = close_after_answer
        self.requests: list[Request] = []
        self.connections = 0
        self.hung_up = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name="peer-accept")
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self._conns.append(conn)
            worker = threading.Thread(target=self._serve, args=(conn,), name="peer-conn")
            self._threads.append(worker)
            worker.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            parser = RequestParser()
            index = 0
            while True:
                event = parser.next_event()
                if event is NEED_DATA:
                    data = conn.recv(65536)
                    parser.receive(data) if data else parser.receive_eof()
                elif event is SEND_CONTINUE:
                    conn.sendall(CONTINUE_BYTES)
                elif event is END_OF_STREAM:
                    return
                else:
                    self.requests.append(event)
                    reply = self.answer(event, index)
                    index += 1
                    if reply is None:
                        return
                    conn.sendall(reply)
                    if self.close_after_answer:
                        return
        except OSError:
            return
        finally:
            conn.close()
            self.hung_up.set()

    def stop(self) -> None:
        self._stop.set()
        self._acceptor.join()
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for worker in self._threads:
            worker.join()
        self._listener.close()


@pytest.fixture
def serve():
    peers: list[Peer] = []

    def start(answer: Answer, **kwargs) -> Peer:
        peer = Peer(answer, **kwargs)
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.stop()


def test_requests_reuse_one_keep_alive_connection(serve):
    peer = serve(lambda req, i: ok(req.target.encode()))
    with HttpClient(peer.url) as client:
        assert client.request("GET", "/a").body == b"/a"
        assert client.request("GET", "/b?x=1").body == b"/b?x=1"
    assert peer.connections == 1
    assert peer.requests[0].header("host") == f"127.0.0.1:{peer.port}"
    assert peer.requests[0].header("user-agent").startswith("monitor-energia")


def test_json_body_is_sent_with_length_and_content_type(serve):
    peer = serve(lambda req, i: ok(req.body))
    with HttpClient(peer.url) as client:
        resp = client.request("POST", "/leituras", json={"consumo_kwh": 3, "nome": "ç"})
    assert resp.json() == {"consumo_kwh": 3, "nome": "ç"}
    assert peer.requests[0].header("content-type") == "application/json; charset=utf-8"


def test_base_url_prefix_and_default_headers_are_applied(serve):
    peer = serve(lambda req, i: ok())
    with HttpClient(peer.url + "/api/", headers=(("X-Token", "t"), ("User-Agent", "medidor"))) as client:
        client.request("DELETE", "/m/1", headers=(("x-token", "override"),))
    request = peer.requests[0]
    assert request.target == "/api/m/1"
    assert (request.header("x-token"), request.header("user-agent")) == ("override", "medidor")


def test_client_reconnects_when_server_closed_idle_connection(serve):
    peer = serve(lambda req, i: ok(), close_after_answer=True)
    with HttpClient(peer.url) as client:
        assert client.request("GET", "/1").status == 200
        assert peer.hung_up.wait(2)
        # The FIN is on its way: wait until the client's idle socket sees it, not a fixed while.
        assert select.select([client._sock], [], [], 2)[0]
        # Detected before writing, so even a non-idempotent POST is safely sent on a new connection.
        assert client.request("POST", "/2", body=b"x").status == 200
    assert peer.connections == 2
    assert [r.target for r in peer.requests] == ["/1", "/2"]


def test_idempotent_request_is_retried_once_when_reused_connection_drops_unanswered(serve):
    peer = serve(lambda req, i: ok() if i == 0 else None)
    with HttpClient(peer.url) as client:
        client.request("GET", "/first")
        assert client.request("GET", "/again").status == 200
    assert peer.connections == 2
    assert [r.target for r in peer.requests] == ["/first", "/again", "/again"]


def test_post_is_not_retried_when_reused_connection_drops_after_it_was_sent(serve):
    peer = serve(lambda req, i: ok() if i == 0 else None)
    with HttpClient(peer.url) as client:
        client.request("GET", "/first")
        with pytest.raises(ConnectionError):
            client.request("POST", "/reading", body=b"{}")
    assert [r.target for r in peer.requests] == ["/first", "/reading"]


def test_fresh_connection_closed_without_answer_is_not_retried(serve):
    peer = serve(lambda req, i: None)
    with HttpClient(peer.url) as client, pytest.raises(ConnectionError):
        client.request("GET", "/")
    assert peer.connections == 1


def test_connection_close_response_makes_next_request_reconnect(serve):
    peer = serve(lambda req, i: ok(extra=b"Connection: close\r\n"))
    with HttpClient(peer.url) as client:
        assert client.request("GET", "/1").close
        client.request("GET", "/2")
    assert peer.connections == 2


def test_body_until_close_response_from_legacy_server(serve):
    legacy = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"abc": {"consumo_kwh": 3}}'
    peer = serve(lambda req, i: legacy, close_after_answer=True)
    with HttpClient(peer.url) as client:
        resp = client.request("GET", "/?id=abc")
    assert resp.json() == {"abc": {"consumo_kwh": 3}} and resp.close


def test_chunked_response_is_decoded(serve):
    peer = serve(lambda req, i: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n1;e=1\r\ne\r\n0\r\n\r\n")
    with HttpClient(peer.url) as client:
        assert client.request("GET", "/").body == b"abcde"
        client.request("GET", "/")
    assert peer.connections == 1


def test_head_response_body_is_not_awaited(serve):
    peer = serve(lambda req, i: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    with HttpClient(peer.url, timeout=2) as client:
        resp = client.request("HEAD", "/")
    assert resp.body == b"" and resp.header("content-length") == "100"


def test_large_response_arrives_whole(serve):
    big = bytes(range(256)) * 8192
    peer = serve(lambda req, i: ok(big))
    with HttpClient(peer.url) as client:
        assert client.request("GET", "/").body == big


def test_silent_server_raises_timeout(serve):
    hang = threading.Event()
    peer = serve(lambda req, i: None if hang.wait(2) else None)
    with HttpClient(peer.url, timeout=0.2) as client:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            client.request("GET", "/")
        assert time.monotonic() - started < 1.5
    hang.set()


def test_refused_connection_raises_connection_error():
    # Bound but not listening: connecting is refused, and the port stays ours for the whole test
    # (closing it first would let another process take it in between).
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        with HttpClient(f"http://127.0.0.1:{port}", timeout=2) as client, pytest.raises(ConnectionError):
            client.request("GET", "/")


def test_garbage_answer_raises_response_error(serve):
    peer = serve(lambda req, i: b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    with HttpClient(peer.url) as client, pytest.raises(ResponseError):
        client.request("GET", "/")


def test_close_is_idempotent_and_client_can_be_used_again(serve):
    peer = serve(lambda req, i: ok())
    client = HttpClient(peer.url)
    client.request("GET", "/")
    client.close()
    client.close()
    assert client.request("GET", "/").status == 200
    client.close()
    assert peer.connections == 2


@pytest.mark.parametrize("url", ["https://example.com", "ftp://h/", "http:///nohost"])
def test_unsupported_base_url_is_refused(url):
    with pytest.raises(ValueError):
        HttpClient(url)


def test_body_and_json_together_are_refused():
    with pytest.raises(ValueError):
        HttpClient("http://127.0.0.1:9").request("POST", "/", body=b"x", json={})
