"""Hostile clients against the network layer (issue 8 #1, #2, #3): each finding reproduced.

Clients that stop reading, bodies announced and never finished, one address holding the
connection table or flooding requests, whitespace that kept idle connections open. Another
loopback address (127.0.0.2) plays "someone else", who must still be served.
"""
from __future__ import annotations

import json
import socket
import time

import pytest

from servidor.net import ServerLimits
from servidor.net.clients import ClientTable, client_key
from shared.http.limits import Limits
from shared.http.messages import Request, Response
from test_net_server import RawClient, assert_json_error, echo_app, serving, wait_until

MIB = 1024 * 1024
OTHER = "127.0.0.2"
BIG = Response(200, (("content-type", "application/octet-stream"),), b"x" * MIB)


def big_or_echo(request: Request) -> Response:
    return BIG if request.path == "/grande" else echo_app(request)


def get(client: RawClient, path: str = "/") -> tuple[int, dict[str, str], bytes]:
    client.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    return client.response()


# -- #1: clients that stop reading never hold a worker --------------------------------------------


def stalled_readers(address: tuple[str, int], count: int, request: bytes, repeat: int) -> list[RawClient]:
    """`count` connections with a tiny receive window, each pipelining `repeat` requests and never
    reading an answer."""
    clients = [RawClient(address, rcvbuf=4096) for _ in range(count)]
    for client in clients:
        client.sock.setblocking(False)
        try:
            client.sock.send(request * repeat)     # as much as the kernel takes; the rest is moot
        except BlockingIOError:
            pass
    return clients


def test_clients_that_stop_reading_do_not_stall_the_others():
    with serving(big_or_echo, workers=2) as server:
        stalled = stalled_readers(server.address, 8, b"GET /grande HTTP/1.1\r\nHost: t\r\n\r\n", 4)
        try:
            # Every stalled connection has had its first megabyte answered (and not taken): with
            # blocking writes each would now pin a worker, and there are only two.
            wait_until(lambda: server.requests_served >= 8, what="8 answers started")
            with RawClient(server.address) as other:
                started = time.monotonic()
                status, _, body = get(other, "/normal")
                elapsed = time.monotonic() - started
            assert status == 200 and json.loads(body)["path"] == "/normal"
            assert elapsed < 1.0, f"an ordinary request took {elapsed:.2f} s behind 8 stalled readers"
        finally:
            for client in stalled:
                client.close()


def test_a_response_not_taken_within_the_write_timeout_drops_its_connection():
    with serving(big_or_echo, workers=2, server_limits=ServerLimits(write_timeout=0.3)) as server:
        # More than the kernel buffers hold on loopback (a few MiB), so the server holds the rest.
        stalled = stalled_readers(server.address, 3, b"GET /grande HTTP/1.1\r\nHost: t\r\n\r\n", 12)
        try:
            wait_until(lambda: server.requests_served >= 3, what="3 answers started")
            wait_until(lambda: server.open_connections == 0, 5, "stalled connections dropped")
        finally:
            for client in stalled:
                client.close()


def test_slow_reader_gets_its_whole_answer_as_it_reads():
    with serving(big_or_echo) as server, RawClient(server.address, rcvbuf=4096) as client:
        client.send(b"GET /grande HTTP/1.1\r\nHost: t\r\n\r\nGET /depois HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_until(lambda: server.requests_served >= 1, what="first answer started")
        status, headers, body = client.response()
        assert status == 200 and body == BIG.body
        assert json.loads(client.response()[2])["path"] == "/depois"   # pipelining survives


def test_stalled_openapi_readers_do_not_delay_saude(servidor_json):
    """The finding as reported: 8 × 50 pipelined `GET /api/v1/openapi.json` and `/saude` waits."""
    request = b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: t\r\n\r\n"
    address = ("127.0.0.1", servidor_json.port)
    stalled = stalled_readers(address, 8, request, 50)
    try:
        wait_until(lambda: servidor_json.server.requests_served >= 8, what="8 answers started")
        started = time.monotonic()
        reply = servidor_json.client().get("/api/v1/saude")
        elapsed = time.monotonic() - started
        assert reply.status == 200
        assert elapsed < 1.0, f"/saude took {elapsed:.2f} s (29.7 s before the fix); served {servidor_json.server.requests_served}"
    finally:
        for client in stalled:
            client.close()


# -- #2: bodies in memory only up to a budget --------------------------------------------------------


def announce(address: tuple[str, int], size: int, *, source: str | None = None, sent: int = 1024) -> RawClient:
    """A POST announcing `size` bytes that sends only the first `sent` of them, then stalls."""
    client = RawClient(address, source=source)
    client.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % size + b"a" * sent)
    return client


def post(client: RawClient, body: bytes) -> tuple[int, dict[str, str], bytes]:
    client.send(b"POST /pequeno HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    return client.response()


def test_announced_bodies_beyond_the_budget_get_503_and_memory_returns_when_they_leave():
    limits = ServerLimits(body_memory=8 * MIB, body_memory_per_client=0)
    with serving(server_limits=limits) as server:
        held = []
        for expected in (4 * MIB, 8 * MIB):
            held.append(announce(server.address, 4 * MIB))
            # Charged for what was announced, not for the 1 KiB that arrived.
            wait_until(lambda: server.body_bytes_held >= expected, what=f"{expected} bytes charged")
        refused = [announce(server.address, 4 * MIB) for _ in range(4)]
        for client in refused:
            status, headers, body = client.response()
            assert status == 503 and int(headers["retry-after"]) >= 1
            assert_json_error(body, "memoria_esgotada")
            assert client.closed_by_server()
        with RawClient(server.address) as someone:
            assert post(someone, b"{}")[0] == 503     # the budget is full: refused, not queued
        for client in held + refused:
            client.close()
        wait_until(lambda: server.body_bytes_held == 0, what="budget released")
        with RawClient(server.address) as someone:
            status, _, body = post(someone, b"depois")
            assert status == 200 and json.loads(body)["body"] == "depois"


def test_one_address_cannot_take_the_whole_budget():
    limits = ServerLimits(body_memory=64 * MIB, body_memory_per_client=8 * MIB)
    with serving(server_limits=limits) as server:
        held = [announce(server.address, 4 * MIB) for _ in range(2)]
        wait_until(lambda: server.body_bytes_held >= 8 * MIB, what="8 MiB charged")
        with announce(server.address, 4 * MIB) as third:
            status, _, body = third.response()
            assert status == 503
            assert "endereço" in assert_json_error(body, "memoria_esgotada")["erro"]["mensagem"]
        # Someone else still gets a full-size body through.
        with RawClient(server.address, source=OTHER) as other:
            status, _, body = post(other, b"b" * (4 * MIB))
            assert status == 200 and len(json.loads(body)["body"]) == 4 * MIB
        for client in held:
            client.close()


def test_chunked_bodies_are_charged_as_their_chunks_are_announced():
    limits = ServerLimits(body_memory=2 * MIB, body_memory_per_client=0)
    with serving(server_limits=limits) as server, RawClient(server.address) as client:
        client.send(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"%x\r\n" % (3 * MIB) + b"z" * 10)
        status, _, body = client.response()
        assert status == 503
        assert_json_error(body, "memoria_esgotada")


# -- #3: per-client connection and request limits; whitespace does not keep a connection --------------


def test_one_address_is_limited_in_connections_and_others_are_not():
    with serving(server_limits=ServerLimits(max_connections_per_client=3)) as server:
        held = [RawClient(server.address) for _ in range(3)]
        try:
            for client in held:
                assert get(client)[0] == 200
            with RawClient(server.address) as fourth:
                status, headers, body = fourth.response()
                assert status == 429 and int(headers["retry-after"]) >= 1
                assert_json_error(body, "conexoes_demais")
                assert fourth.closed_by_server()
            with RawClient(server.address, source=OTHER) as other:
                assert get(other)[0] == 200
            held.pop().close()
            wait_until(lambda: server.open_connections == 2, what="a connection released")
            with RawClient(server.address) as again:
                assert get(again)[0] == 200
        finally:
            for client in held:
                client.close()


def test_request_rate_beyond_the_burst_gets_429_and_the_connection_stays():
    limits = ServerLimits(requests_per_second_per_client=0.5, request_burst_per_client=5)
    with serving(server_limits=limits) as server, RawClient(server.address) as client:
        client.send(b"".join(b"GET /r%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(8)))
        answers = [client.response() for _ in range(8)]
        assert [status for status, _, _ in answers] == [200] * 5 + [429] * 3
        _, headers, body = answers[5]
        assert int(headers["retry-after"]) >= 1
        assert_json_error(body, "requisicoes_demais")
        assert "connection" not in headers        # refused, not cut off
        with RawClient(server.address, source=OTHER) as other:
            assert get(other)[0] == 200


def test_token_bucket_refills_at_the_rate():
    now = [0.0]
    table = ClientTable(ServerLimits(requests_per_second_per_client=2, request_burst_per_client=3), clock=lambda: now[0])
    client = table.admit(("10.0.0.1", 5000))
    assert [table.take_request(client) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert table.take_request(client) == pytest.approx(0.5)
    now[0] += 0.5
    assert table.take_request(client) == 0.0
    now[0] += 100
    assert [table.take_request(client) for _ in range(4)][-1] > 0     # refills to the burst only


def test_clients_are_counted_by_address_and_ipv6_by_its_64():
    assert client_key(("192.0.2.7", 1234)) == "192.0.2.7"
    assert client_key(("2001:db8:1:2:aaaa::1", 80, 0, 0)) == client_key(("2001:db8:1:2:bbbb::9", 81, 0, 0))
    assert client_key(("2001:db8:1:3::1", 80, 0, 0)) != client_key(("2001:db8:1:2::1", 80, 0, 0))
    assert client_key(("::ffff:192.0.2.7", 80, 0, 0)) == "192.0.2.7"


def trickle_crlf(client: RawClient, every: float, give_up: float) -> float:
    """Send a bare CRLF every `every` s until the server closes; seconds it took."""
    started = time.monotonic()
    client.sock.settimeout(every)
    while time.monotonic() - started < give_up:
        try:
            client.sock.sendall(b"\r\n")
            if client.sock.recv(1) == b"":
                break
        except socket.timeout:
            continue                       # nothing from the server yet: keep trickling
        except OSError:
            break
    return time.monotonic() - started


@pytest.mark.parametrize("after_a_request", [False, True])
def test_bare_crlfs_do_not_reset_the_idle_timeout(after_a_request):
    limits = Limits(idle_timeout=0.5, read_timeout=5.0)
    with serving(limits=limits) as server, RawClient(server.address) as client:
        if after_a_request:
            assert get(client)[0] == 200
        took = trickle_crlf(client, every=0.1, give_up=5.0)
        assert took < 2.0, f"a CRLF every 100 ms kept an idle connection open for {took:.1f} s"
        wait_until(lambda: server.open_connections == 0, what="connection closed")
