"""An HttpServer with only a few spare file descriptors, run as its own process by
test_net_descriptors.py (lowering the limit inside pytest would starve the test run itself).

`python tests/fd_limited_server.py SPARE HOLD`: serves on 127.0.0.1 with its descriptor limit set
to what it has open plus SPARE, prints its port on the first line of stdout (so the port is never
picked by the parent and raced for), answers `GET /saude` with HttpServer.health() and stops
when its stdin closes.
"""
from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servidor.api.envelope import error_response  # noqa: E402
from servidor.net import HttpServer, ServerLimits  # noqa: E402
from shared.http.messages import Request, Response  # noqa: E402


def main() -> int:
    spare, hold = int(sys.argv[1]), float(sys.argv[2])
    server: HttpServer | None = None

    def app(request: Request) -> Response:
        if request.path == "/saude":
            ok, reason = server.health()
            return Response.of_json(200, {"ok": ok, "motivo": reason})
        return Response.of_json(200, {"path": request.path})

    # Every client of the test is 127.0.0.1: no per-client cap, the descriptors are the limit.
    server = HttpServer(app, workers=2, error_response=error_response, health_hold=hold,
                        server_limits=ServerLimits(max_connections_per_client=0))
    in_use = len(os.listdir("/proc/self/fd"))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + spare, hard))
    server.start()
    print(server.address[1], flush=True)
    sys.stdin.read()
    server.shutdown(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
