"""HttpServer over real sockets on port 0: framing, keep-alive, pipelining and error answers.

Clients are http.client, raw sockets (to see exact bytes and timing) and curl.
Timeouts, load, Deferred and shutdown live in test_net_server_lifecycle.py.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import logging
import shutil
import socket
import struct
import subprocess
import time
from typing import Callable, Iterator

import pytest

from servidor.api.envelope import error_response
from servidor.api.errors import MethodNotAllowed
from servidor.net import HttpServer
from shared.http.limits import Limits
from shared.http.messages import Request, Response

SMALL_LIMITS = Limits(max_request_line=256, max_header_bytes=1024, max_body_bytes=100)


def echo_app(request: Request) -> Response:
    if request.path == "/boom":
        raise RuntimeError("segredo interno: senha=hunter2")
    if request.path == "/proibido":
        # An API refusal that escaped its dispatcher: error_response still answers it as the API would.
        raise MethodNotAllowed(request.method, ("GET",))
    if request.path == "/fechar":
        return Response.of_json(200, {"ok": True}, close=True)
    return Response.of_json(200, {
        "method": request.method,
        "path": request.path,
        "body": request.body.decode("utf-8", "replace"),
        "version": request.version,
    })


@contextlib.contextmanager
def serving(handler=echo_app, **kwargs) -> Iterator[HttpServer]:
    kwargs.setdefault("error_response", error_response)
    server = HttpServer(handler, **kwargs)
    server.start()
    try:
        yield server
    finally:
        server.shutdown(timeout=5)


class RawClient:
    """A socket plus one buffered reader, so pipelined responses are read back one by one."""

    def __init__(self, address: tuple[str, int], timeout: float = 5.0, *, source: str | None = None,
                 rcvbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect, so the window the client advertises is small from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source is not None:
            self.sock.bind((source, 0))     # another loopback address is another client
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self, *, head: bool = False) -> tuple[int, dict[str, str], bytes]:
        status_line = self.file.readline()
        if not status_line:
            raise EOFError("connection closed before a response")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, value = line.decode("latin-1").split(":", 1)
            headers[name.strip().lower()] = value.strip()
        no_body = head or status < 200 or status in (204, 304)
        body = b"" if no_body else self.file.read(int(headers.get("content-length", "0")))
        return status, headers, body

    def closed_by_server(self) -> bool:
        try:
            return self.file.read(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.01)


def assert_json_error(body: bytes, code: str) -> dict:
    payload = json.loads(body)
    assert set(payload) == {"erro"}
    assert payload["erro"]["codigo"] == code
    assert isinstance(payload["erro"]["mensagem"], str) and payload["erro"]["mensagem"]
    return payload


# -- keep-alive, pipelining, framing -------------------------------------------------------------


def test_keep_alive_serves_three_requests_on_one_socket():
    with serving() as server:
        conn = http.client.HTTPConnection(*server.address, timeout=5)
        sockets = []
        for i in range(3):
            conn.request("GET", f"/item/{i}")
            response = conn.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["path"] == f"/item/{i}"
            sockets.append(conn.sock)
        conn.close()
        assert sockets[0] is not None and all(s is sockets[0] for s in sockets)
        assert server.requests_served == 3


def test_pipelined_requests_in_one_send_are_answered_in_order():
    with serving() as server, RawClient(server.address) as client:
        client.send(b"".join(
            b"POST /p%d HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\n%d" % (i, i) for i in range(3)
        ))
        answers = [json.loads(client.response()[2]) for _ in range(3)]
        assert [(a["path"], a["body"]) for a in answers] == [("/p0", "0"), ("/p1", "1"), ("/p2", "2")]


def test_chunked_request_body_is_reassembled():
    with serving() as server, RawClient(server.address) as client:
        client.send(b"POST /leituras HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        status, _, body = client.response()
        assert status == 200
        assert json.loads(body)["body"] == "hello world"


def test_expect_100_continue_is_sent_before_the_client_sends_the_body():
    with serving() as server, RawClient(server.address) as client:
        client.send(b"POST /grande HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        # The body has not been sent: the interim response must come first, unprompted.
        assert client.response() == (100, {}, b"")
        client.send(b"abcd")
        status, _, body = client.response()
        assert status == 200 and json.loads(body)["body"] == "abcd"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_with_expect_100_continue_gets_continue_then_the_answer():
    with serving() as server:
        host, port = server.address
        result = subprocess.run(
            ["curl", "-sS", "-v", "--max-time", "5", "-H", "Expect: 100-continue",
             "--data-binary", "@-", f"http://{host}:{port}/via-curl"],
            input=b'{"consumo_kwh": 2}', capture_output=True, timeout=10, check=True,
        )
        assert b"HTTP/1.1 100 Continue" in result.stderr
        assert json.loads(result.stdout) == {
            "method": "POST", "path": "/via-curl", "body": '{"consumo_kwh": 2}', "version": "HTTP/1.1",
        }


def test_head_answer_has_content_length_and_no_body():
    with serving() as server, RawClient(server.address) as client:
        client.send(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\nHEAD /x HTTP/1.1\r\nHost: t\r\n\r\n")
        _, get_headers, get_body = client.response()
        status, head_headers, _ = client.response(head=True)
        assert status == 200
        assert int(head_headers["content-length"]) > 0
        # Had the HEAD answer carried a body, it would show up here as the next response's bytes.
        client.send(b"GET /fim HTTP/1.1\r\nHost: t\r\n\r\n")
        status, _, body = client.response()
        assert status == 200 and json.loads(body)["path"] == "/fim"
        assert "date" in head_headers and head_headers["server"] == "monitor-energia"


def test_http10_request_closes_unless_keep_alive_is_asked():
    with serving() as server:
        with RawClient(server.address) as client:
            client.send(b"GET /a HTTP/1.0\r\n\r\n")
            status, headers, _ = client.response()
            assert status == 200 and headers["connection"] == "close"
            assert client.closed_by_server()
        with RawClient(server.address) as client:
            client.send(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            assert client.response()[1]["connection"] == "keep-alive"
            client.send(b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            assert json.loads(client.response()[2])["version"] == "HTTP/1.0"


def test_connection_close_from_client_or_app_closes_after_the_response():
    with serving() as server:
        with RawClient(server.address) as client:
            client.send(b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            assert client.response()[1]["connection"] == "close"
            assert client.closed_by_server()
        with RawClient(server.address) as client:
            client.send(b"GET /fechar HTTP/1.1\r\nHost: t\r\n\r\n")
            status, headers, _ = client.response()
            assert status == 200 and headers["connection"] == "close"
            assert client.closed_by_server()


# -- protocol errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"ISTO NAO E HTTP\r\n\r\n", 400, "requisicao_invalida"),
        (b"GET /a HTTP/1.1\r\nHost: t\r\nX-Grande: " + b"a" * 2000 + b"\r\n\r\n", 431, "cabecalhos_grandes_demais"),
        (b"GET /" + b"a" * 400 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, "uri_longa_demais"),
        (b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n" + b"x" * 101, 413, "corpo_grande_demais"),
        (b"POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "nao_implementado"),
        (b"GET /a HTTP/2.0\r\nHost: t\r\n\r\n", 505, "versao_nao_suportada"),
    ],
    ids=["malformed-request-line", "huge-header", "long-uri", "body-over-limit", "unknown-coding", "http2"],
)
def test_malformed_request_gets_json_error_and_the_connection_closes(raw, status, code):
    with serving(limits=SMALL_LIMITS) as server, RawClient(server.address) as client:
        client.send(raw)
        got_status, headers, body = client.response()
        assert got_status == status
        assert headers["content-type"].startswith("application/json")
        assert headers["connection"] == "close"
        assert_json_error(body, code)
        assert client.closed_by_server()


def test_chunked_body_over_limit_gets_413():
    with serving(limits=SMALL_LIMITS) as server, RawClient(server.address) as client:
        client.send(b"POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + b"%x\r\n" % 150 + b"y" * 150 + b"\r\n0\r\n\r\n")
        status, _, body = client.response()
        assert status == 413
        assert_json_error(body, "corpo_grande_demais")


def test_handler_exception_is_a_bare_500_and_the_server_keeps_serving(caplog):
    with serving() as server, RawClient(server.address) as client:
        with caplog.at_level(logging.ERROR, logger="servidor.net"):
            client.send(b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, body = client.response()
        assert status == 500
        assert json.loads(body) == {"erro": {"codigo": "erro_interno", "mensagem": "Erro interno do servidor"}}
        assert b"hunter2" not in body and b"Traceback" not in body
        assert any("hunter2" in (r.exc_text or "") for r in caplog.records), "traceback must be logged"
        # Same connection still usable, and so is the server.
        client.send(b"GET /depois HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.response()[0] == 200


def test_an_api_refusal_that_escaped_gets_its_own_answer_and_keeps_the_connection():
    with serving() as server, RawClient(server.address) as client:
        client.send(b"POST /proibido HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        status, headers, body = client.response()
        assert status == 405
        assert headers["allow"] == "GET"
        assert "connection" not in headers
        assert_json_error(body, "metodo_nao_permitido")
        client.send(b"GET /de-novo HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.response()[0] == 200


def test_handler_returning_something_else_is_a_500():
    with serving(lambda request: {"not": "a response"}) as server, RawClient(server.address) as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        status, _, body = client.response()
        assert status == 500
        assert_json_error(body, "erro_interno")


def test_meter_004_body_without_length_is_read_until_the_client_half_closes():
    received: list[Request] = []

    def app(request: Request) -> Response:
        received.append(request)
        return Response.of_json(201, {"ok": True})

    until_close = lambda method, target: not target.startswith("/api/")  # noqa: E731
    with serving(app, body_until_close=until_close) as server, RawClient(server.address) as client:
        client.send(b'POST /abc HTTP/1.1\r\nHost: localhost:5000\r\n\r\n{"consumo_kwh": 1}')
        client.sock.shutdown(socket.SHUT_WR)
        status, _, _ = client.response()
        assert status == 201
        assert client.closed_by_server()
    assert [(r.method, r.path, r.body) for r in received] == [("POST", "/abc", b'{"consumo_kwh": 1}')]


def test_meter_004_that_closes_without_reading_does_not_disturb_the_server():
    until_close = lambda method, target: method == "POST"  # noqa: E731
    with serving(body_until_close=until_close) as server:
        for _ in range(5):
            sock = socket.create_connection(server.address)
            sock.sendall(b"POST /abc HTTP/1.1\r\nHost: m\r\n\r\n" + b"z" * 50)
            sock.shutdown(socket.SHUT_WR)
            sock.close()
        conn = http.client.HTTPConnection(*server.address, timeout=5)
        conn.request("GET", "/ainda-vivo")
        assert conn.getresponse().status == 200
        conn.close()


def test_port_in_use_raises_oserror():
    with serving() as server:
        clash = HttpServer(echo_app, *server.address)
        with pytest.raises(OSError):
            clash.start()
        clash.shutdown()


def test_request_sent_one_byte_at_a_time_is_reassembled():
    raw = b"POST /aos-poucos HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde"
    with serving() as server, RawClient(server.address) as client:
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(raw)):
            client.send(raw[i:i + 1])
        status, _, body = client.response()
        assert status == 200 and json.loads(body)["body"] == "abcde"


def test_peer_that_leaves_mid_response_is_cleaned_up_and_the_server_carries_on():
    big = Response(200, (("content-type", "application/octet-stream"),), b"x" * (8 * 1024 * 1024))
    with serving(lambda request: big if request.path == "/grande" else echo_app(request)) as server:
        for _ in range(3):
            sock = socket.create_connection(server.address)
            # SO_LINGER 0: close() resets the connection, so the server's write fails mid-body.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(b"GET /grande HTTP/1.1\r\nHost: t\r\n\r\n")
            sock.recv(1024)
            sock.close()
        conn = http.client.HTTPConnection(*server.address, timeout=5)
        conn.request("GET", "/depois")
        assert conn.getresponse().status == 200
        conn.close()
        wait_until(lambda: server.open_connections == 0, 3, "every connection closed")
