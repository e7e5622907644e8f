"""`python -m servidor.healthcheck`: exit 0 when the server on MONITOR_PORTA answers
/api/v1/saude with 200, 1 otherwise. The Docker image's HEALTHCHECK, so that a server moved to
another port (MONITOR_PORTA) is still found healthy and the meters waiting on it start."""
from __future__ import annotations

import os
import sys
import urllib.request

from shared.contract import API_PREFIX

# Docker's own timeout for the check is 3 s; answer before it.
TIMEOUT_S = 2.0


def main() -> int:
    port = os.environ.get("MONITOR_PORTA", "5000")
    host = os.environ.get("MONITOR_HOST", "127.0.0.1")
    if host in ("", "0.0.0.0", "::"):  # every interface: loopback among them
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{API_PREFIX}/saude", timeout=TIMEOUT_S) as answer:
            return 0 if answer.status == 200 else 1
    except (OSError, ValueError):
        return 1


if __name__ == "__main__":
    sys.exit(main())
