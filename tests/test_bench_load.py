"""The benchmarks' load generator (bench/load.py) continues each meter's seqs from one run to the
next. Re-sending a run's seqs in the next would measure duplicates, which the server acknowledges
without storing: every figure in bench/RESULTS.md rests on this (it once did not hold)."""
from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import Api
from tests.server_process import ADMIN, start

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from feed import MeterFeed  # noqa: E402  (bench/ is not a package)
from load import ConnPlan, run_load  # noqa: E402


def test_two_runs_of_the_same_feeds_send_new_readings_each_time(tmp_path: Path):
    server = start(tmp_path / "db.json")
    try:
        admin = Api(server.port, ADMIN)
        feeds = [MeterFeed.new(f"m{n}", admin.post("/api/v1/medidores", {"id": f"m{n}"}).json["chave_escrita"])
                 for n in range(2)]
        sent = 0
        for batch in (0, 10):          # single readings, then batches of ten
            result = run_load("127.0.0.1", server.port, [ConnPlan(feeds=[f], batch=batch, requests=20) for f in feeds],
                              processes=2)
            assert set(result.statuses) == {200} and not result.errors
            sent += result.readings
        assert sent == 2 * (20 + 200)
        assert [f.seq for f in feeds] == [221, 221]          # the caller's feeds moved on
        for f in feeds:
            stored = admin.get(f"/api/v1/medidores/{f.meter_id}").json["resumo"]["leituras"]
            assert stored == 220                              # every reading new, none a duplicate
    finally:
        server.stop()
