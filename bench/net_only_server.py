"""The project's own network layer with nothing behind it: HttpServer answering a canned 200.

Measured beside the ceiling (bench/ceiling_server.py) and the real server, it splits the gap
between them: what servidor/net and shared/http cost per request (this server against the
ceiling) and what the application costs (the real server against this one). Same answer
bytes as the other two, same worker count as `servidor`, per-client limits off (the load comes
from one address).

Run alone: `python bench/net_only_server.py`; it prints `rede ouvindo em http://127.0.0.1:<porta>/`
when ready and stops on SIGTERM or SIGINT.
"""
from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ceiling_server import BODY  # noqa: E402
from servidor.api.envelope import error_response  # noqa: E402
from servidor.cli import DEFAULT_WORKERS  # noqa: E402
from servidor.net import DEFAULT_SERVER_LIMITS, HttpServer  # noqa: E402
from shared.http.messages import Request, Response  # noqa: E402

CANNED = Response(200, (("content-type", "application/json; charset=utf-8"),), BODY)


def main() -> None:
    def handler(request: Request) -> Response:
        return CANNED

    server = HttpServer(handler, workers=DEFAULT_WORKERS, error_response=error_response,
                        server_limits=DEFAULT_SERVER_LIMITS.per_client(0, 0))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    host, port = server.address
    print(f"rede ouvindo em http://{host}:{port}/", flush=True)
    stop.wait()
    server.shutdown()


if __name__ == "__main__":
    main()
