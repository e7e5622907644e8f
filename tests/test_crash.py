"""kill -9 during sustained ingest loses no acknowledged reading and leaves a store that opens."""
from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from tests.conftest import Api
from tests.server_process import ADMIN, start

pytestmark = pytest.mark.slow
METERS = 4
ROUNDS = 3
T0 = 1_790_000_000_000


def all_seqs(api: Api, meter_id: str) -> list[int]:
    seqs: list[int] = []
    path = f"/api/v1/medidores/{meter_id}/leituras?limite=10000"
    while path:
        page = api.get(path).json
        seqs += [r["seq"] for r in page["leituras"]]
        path = page.get("proxima_pagina")
    return seqs


# Ingest threads announce every acknowledgment here, so the kill waits for progress, not for time.
progress = threading.Condition()


def ingest_until_killed(port: int, meter_id: str, key: str, first_seq: int, acked: list[int], batch: int) -> None:
    api = Api(port, key)
    seq = first_seq
    try:
        while True:
            rows = [{"seq": s, "ts": T0 + s * 10_000, "energia_wh": s * 2.5} for s in range(seq, seq + batch)]
            body = rows[0] if batch == 1 else {"leituras": rows}
            reply = api.post(f"/api/v1/medidores/{meter_id}/leituras", body)
            if reply.status != 200:
                return
            with progress:
                acked.extend(range(seq, seq + batch))  # acknowledged: must survive the kill
                progress.notify_all()
            seq += batch
    except (OSError, ValueError, Exception):  # the server died under us: expected
        return


def test_sigkill_during_ingest_loses_no_acknowledged_reading(tmp_path: Path):
    db = tmp_path / "db.json"
    rng = random.Random(9)
    server = start(db)
    admin = Api(server.port, ADMIN)
    keys = {}
    for n in range(METERS):
        keys[f"m{n}"] = admin.post("/api/v1/medidores", {"id": f"m{n}"}).json["chave_escrita"]
    acked: dict[str, list[int]] = {m: [] for m in keys}
    next_seq = {m: 0 for m in keys}
    for round_no in range(ROUNDS):
        threads = [
            threading.Thread(target=ingest_until_killed,
                             args=(server.port, m, keys[m], next_seq[m], acked[m], 1 if i % 2 == 0 else 50))
            for i, m in enumerate(keys)
        ]
        for t in threads:
            t.start()
        acked_before = sum(len(a) for a in acked.values())
        # Kill at a different point of each round: after 100 to 2,000 more acknowledgments.
        wanted = acked_before + rng.randint(100, 2000)
        with progress:
            assert progress.wait_for(lambda: sum(len(a) for a in acked.values()) >= wanted, timeout=60)
        server.kill()
        for t in threads:
            t.join(10)
        server = start(db)  # the store must open after every kill
        check = Api(server.port, ADMIN)
        for m in keys:
            stored = all_seqs(check, m)
            assert len(stored) == len(set(stored)), f"{m}: a reading stored twice"
            missing = set(acked[m]) - set(stored)
            assert not missing, f"round {round_no}, {m}: lost acknowledged readings {sorted(missing)[:10]}"
            next_seq[m] = max(stored, default=-1) + 1
        # The kill must land during real ingest, or the test proves nothing.
        assert sum(len(a) for a in acked.values()) - acked_before >= 100
    server.stop()
