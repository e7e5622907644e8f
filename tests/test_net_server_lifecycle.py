"""HttpServer over time: timeouts, idle load, long polls (Deferred), connection cap, shutdown."""
from __future__ import annotations

import http.client
import json
import resource
import socket
import threading
import time

import pytest

from servidor.api.envelope import error_response
from servidor.net import Deferred, HttpServer, ServerLimits
from shared.http.limits import Limits
from shared.http.messages import Request, Response
from test_net_server import RawClient, assert_json_error, echo_app, serving, wait_until

FAST_TIMEOUTS = Limits(idle_timeout=0.3, read_timeout=0.3)


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("servidor-net-")]


def get(address: tuple[str, int], path: str = "/", timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- timeouts ------------------------------------------------------------------------------------


def test_request_not_completed_within_read_timeout_gets_408_and_close():
    with serving(limits=FAST_TIMEOUTS) as server, RawClient(server.address) as client:
        client.send(b"POST /lento HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        started = time.monotonic()
        status, headers, body = client.response()
        assert status == 408 and headers["connection"] == "close"
        assert_json_error(body, "tempo_esgotado")
        assert time.monotonic() - started < 2.0
        assert client.closed_by_server()


def test_trickling_bytes_does_not_extend_the_read_timeout():
    limits = Limits(idle_timeout=5.0, read_timeout=0.6)
    with serving(limits=limits) as server, RawClient(server.address) as client:
        started = time.monotonic()
        for byte in b"GET /slowloris HTTP/1.1\r\n":
            try:
                client.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
            if time.monotonic() - started > 1.5:
                break
        status, _, _ = client.response()
        assert status == 408
        assert time.monotonic() - started < 2.5


def test_idle_keep_alive_connection_is_closed_silently_after_idle_timeout():
    with serving(limits=FAST_TIMEOUTS) as server, RawClient(server.address) as client:
        client.send(b"GET /uma HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.response()[0] == 200
        started = time.monotonic()
        assert client.closed_by_server()      # EOF with no bytes: no 408 for an idle connection
        assert 0.2 < time.monotonic() - started < 2.0
        assert server.open_connections == 0


# -- load ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_thousand_idle_connections_do_not_delay_an_ordinary_request():
    idle_count = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * idle_count + 200                       # both ends live in this process
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"o limite de arquivos abertos desta máquina ({hard}) não comporta {needed} sockets")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    idle: list[socket.socket] = []
    try:
        # Every socket comes from 127.0.0.1: lift the per-client cap that would stop them at 256.
        with serving(workers=4, server_limits=ServerLimits(max_connections_per_client=0)) as server:
            for _ in range(idle_count):
                idle.append(socket.create_connection(server.address, timeout=5))
            # Half of them have started a request and stalled: still no worker is held.
            for sock in idle[::2]:
                sock.sendall(b"GET /parado HTTP/1.1\r\n")
            wait_until(lambda: server.open_connections == idle_count, what=f"{idle_count} connections held")
            started = time.monotonic()
            status, body = get(server.address, "/normal")
            elapsed = time.monotonic() - started
            assert status == 200 and json.loads(body)["path"] == "/normal"
            assert elapsed < 2.0, f"ordinary request took {elapsed:.2f}s behind {idle_count} idle connections"
    finally:
        for sock in idle:
            sock.close()
        if soft < needed:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_connections_beyond_max_connections_get_503_and_close():
    with serving(server_limits=ServerLimits(max_connections=2)) as server:
        held = [RawClient(server.address) for _ in range(2)]
        try:
            for client in held:                      # make sure both were accepted first
                client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                assert client.response()[0] == 200
            with RawClient(server.address) as extra:
                status, headers, body = extra.response()
                assert status == 503 and headers["retry-after"]
                assert_json_error(body, "servidor_sobrecarregado")
                assert extra.closed_by_server()
        finally:
            for client in held:
                client.close()


# -- long poll (Deferred) ------------------------------------------------------------------------


def long_poll_app(parked: list[Deferred], delay: float = 0.2):
    def app(request: Request) -> Response | Deferred:
        if request.path == "/espera":
            deferred = Deferred()
            parked.append(deferred)
            if delay:
                timer = threading.Timer(delay, deferred.resolve, [Response.of_json(200, {"novidade": 1})])
                timer.daemon = True
                timer.start()
            return deferred
        return echo_app(request)
    return app


def test_deferred_releases_the_worker_while_other_connections_are_served():
    parked: list[Deferred] = []
    with serving(long_poll_app(parked), workers=2) as server:
        waiters = [RawClient(server.address) for _ in range(3)]   # more long polls than workers
        try:
            started = time.monotonic()
            for waiter in waiters:
                waiter.send(b"GET /espera HTTP/1.1\r\nHost: t\r\n\r\n")
            served_meanwhile = []
            for i in range(5):
                status, _ = get(server.address, f"/outro/{i}")
                served_meanwhile.append((status, time.monotonic() - started))
            assert all(status == 200 for status, _ in served_meanwhile)
            assert all(at < 0.2 for _, at in served_meanwhile), served_meanwhile
            for waiter in waiters:
                status, _, body = waiter.response()
                assert status == 200 and json.loads(body) == {"novidade": 1}
            assert time.monotonic() - started >= 0.2
            # The connection carries on normally after the long poll.
            waiters[0].send(b"GET /depois HTTP/1.1\r\nHost: t\r\n\r\n")
            assert json.loads(waiters[0].response()[2])["path"] == "/depois"
        finally:
            for waiter in waiters:
                waiter.close()


def test_request_pipelined_behind_a_long_poll_is_answered_after_it():
    parked: list[Deferred] = []
    with serving(long_poll_app(parked, delay=0.1)) as server, RawClient(server.address) as client:
        client.send(b"GET /espera HTTP/1.1\r\nHost: t\r\n\r\nGET /seguinte HTTP/1.1\r\nHost: t\r\n\r\n")
        assert json.loads(client.response()[2]) == {"novidade": 1}
        assert json.loads(client.response()[2])["path"] == "/seguinte"


def test_deferred_already_resolved_when_returned_is_answered():
    def app(request: Request) -> Deferred:
        deferred = Deferred()
        deferred.resolve(Response(204))
        return deferred

    with serving(app) as server:
        assert get(server.address)[0] == 204


def test_parked_long_poll_is_answered_503_on_shutdown():
    parked: list[Deferred] = []
    server = HttpServer(long_poll_app(parked, delay=0), workers=2, error_response=error_response)
    server.start()
    with RawClient(server.address) as client:
        client.send(b"GET /espera HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_until(lambda: bool(parked), what="the long poll parked")
        started = time.monotonic()
        server.shutdown(timeout=5)
        assert time.monotonic() - started < 2.0
        status, headers, body = client.response()
        assert status == 503 and headers["connection"] == "close"
        assert_json_error(body, "servidor_encerrando")
    # The app's own resolve, arriving late, loses and harms nothing.
    assert parked[0].resolve(Response(204)) is False
    assert server_threads() == []


# -- shutdown ------------------------------------------------------------------------------------


def test_shutdown_lets_the_request_in_flight_finish_then_joins_every_thread():
    entered = threading.Event()

    def slow_app(request: Request) -> Response:
        entered.set()
        time.sleep(0.3)
        return Response.of_json(200, {"terminou": True})

    server = HttpServer(slow_app, workers=3)
    server.start()
    address = server.address
    with RawClient(address) as idle, RawClient(address) as busy:
        busy.send(b"GET /lento HTTP/1.1\r\nHost: t\r\n\r\n")
        assert entered.wait(5)
        server.shutdown(timeout=5)
        status, headers, body = busy.response()
        assert status == 200 and json.loads(body) == {"terminou": True}
        assert headers["connection"] == "close"    # the client learns not to reuse it
        assert idle.closed_by_server()
    assert server_threads() == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2).close()


def test_shutdown_is_idempotent_and_safe_before_start():
    never_started = HttpServer(echo_app)
    never_started.shutdown()
    with pytest.raises(RuntimeError):
        never_started.start()
    server = HttpServer(echo_app)
    with server:
        assert get(server.address)[0] == 200
    server.shutdown()
    server.shutdown(timeout=0)
    assert server_threads() == []


def test_handler_that_outlives_the_shutdown_timeout_does_not_hang_shutdown():
    release = threading.Event()

    entered = threading.Event()

    def stuck_app(request: Request) -> Response:
        entered.set()
        release.wait(5)
        return Response(204)

    server = HttpServer(stuck_app, workers=1)
    server.start()
    with RawClient(server.address) as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert entered.wait(5)
        started = time.monotonic()
        server.shutdown(timeout=0.3)
        assert time.monotonic() - started < 2.5
        release.set()
    for thread in server_threads():
        thread.join(5)
    assert server_threads() == []
