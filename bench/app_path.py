"""In-process cost of the ingest path: `App.handle(Request)` for single-reading POSTs, no sockets.

    .venv/bin/python bench/app_path.py [--rodadas 5] [--requisicoes 6000] [--duravel]

What the server spends between a parsed request and its Response (routing, key check, JSON,
validation, the store's append, alerts, commands, the answer), measured as process CPU time per
request over rounds of single-reading POSTs to one meter, median of the rounds. The readings
store is opened without fsync unless --duravel: the fsync is I/O, not CPU, and is what the
socket benchmark (bench/run.py) measures end to end. The first 500 requests of a round warm up.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.http.messages import Request  # noqa: E402
from servidor.app import App, Settings, readings_dir  # noqa: E402
from servidor.store.documents import DocumentStore  # noqa: E402
from servidor.store.readings import ReadingStore  # noqa: E402

WARM_UP = 500
ADMIN = "chave-admin-do-bench"


def one_round(requests: int, durable: bool) -> float:
    """CPU µs per request of one round on fresh stores."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db.json"
        app = App(DocumentStore.open(db), ReadingStore.open(readings_dir(db), durable=durable),
                  Settings(admin_key=ADMIN, registration_key="registro-do-bench"), announce=lambda _: None)
        app.start()
        try:
            admin = (("authorization", f"Bearer {ADMIN}"), ("content-type", "application/json"))
            created = app.handle(Request("POST", "/api/v1/medidores", headers=admin,
                                         body=b'{"id": "bench", "nome": "bench"}'))
            key = json.loads(created.body)["chave_escrita"]
            headers = (("host", "127.0.0.1"), ("authorization", f"Bearer {key}"), ("content-type", "application/json"))
            start = int(time.time() * 1000) - 10_000 * (requests + WARM_UP)
            posts = [Request("POST", "/api/v1/medidores/bench/leituras", headers=headers, body=json.dumps(
                {"seq": i, "ts": start + i * 10_000, "energia_wh": i * 1.5, "potencia_w": 540.0}).encode())
                for i in range(requests + WARM_UP)]
            for request in posts[:WARM_UP]:
                assert app.handle(request).status == 200
            cpu = time.process_time()
            for request in posts[WARM_UP:]:
                app.handle(request)
            return (time.process_time() - cpu) / requests * 1e6
        finally:
            app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rodadas", type=int, default=5)
    parser.add_argument("--requisicoes", type=int, default=6000)
    parser.add_argument("--duravel", action="store_true", help="com fsync no diário de leituras")
    args = parser.parse_args()
    rounds = [one_round(args.requisicoes, args.duravel) for _ in range(args.rodadas)]
    print(f"App.handle, POST de uma leitura: {statistics.median(rounds):.1f} µs de CPU por requisição "
          f"(mediana de {args.rodadas} rodadas: {', '.join(f'{r:.1f}' for r in rounds)})")


if __name__ == "__main__":
    main()
