"""Out of file descriptors (issue 8 #6, network part): new clients get 503 at once instead of
hanging in the kernel's queue, health() says why, and it all recovers without a restart."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from test_net_server import RawClient, assert_json_error, wait_until

HELPER = Path(__file__).resolve().parent / "fd_limited_server.py"
SPARE = 24          # descriptors beyond what the server process has open before it starts
HOLD = 0.5          # seconds health() keeps reporting a condition after it was last seen

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="precisa de /proc para contar descritores")


@pytest.fixture
def limited() -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen([sys.executable, str(HELPER), str(SPARE), str(HOLD)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        yield ("127.0.0.1", port)
    finally:
        proc.stdin.close()
        try:
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def health(client: RawClient) -> tuple[bool, str | None]:
    client.send(b"GET /saude HTTP/1.1\r\nHost: t\r\n\r\n")
    payload = json.loads(client.response()[2])
    return payload["ok"], payload["motivo"]


def test_descriptor_exhaustion_is_a_503_health_says_so_and_it_recovers(limited):
    monitor = RawClient(limited)
    held: list[RawClient] = []
    try:
        assert health(monitor) == (True, None)
        refusal = None
        for _ in range(4 * SPARE):
            # A 3 s timeout: a connection left in the accept queue would hang here (the finding).
            client = RawClient(limited, timeout=3)
            client.send(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
            status, headers, body = client.response()
            if status == 503:
                refusal = (headers, body)
                assert client.closed_by_server()
                client.close()
                break
            assert status == 200
            held.append(client)
        assert refusal is not None, f"{len(held)} connections and the server never ran out"
        headers, body = refusal
        assert int(headers["retry-after"]) >= 1
        assert_json_error(body, "sem_descritores")
        ok, reason = health(monitor)
        assert not ok and "descritores" in reason
        # Still out of descriptors: the next ones are refused too, never left hanging.
        with RawClient(limited, timeout=3) as again:
            again.send(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
            assert again.response()[0] == 503
        for client in held:
            client.close()
        held.clear()
        wait_until(lambda: health(monitor) == (True, None), 5, "health back to ok")
        with RawClient(limited, timeout=3) as after:
            after.send(b"GET /depois HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, body = after.response()
            assert status == 200 and json.loads(body)["path"] == "/depois"
    finally:
        for client in held:
            client.close()
        monitor.close()
