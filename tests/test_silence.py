"""Silence alerts (issue 14 #2): judged by when readings arrive, never raised by a backfill, and
closed by themselves when the meter speaks again. One clock drives ingest and housekeeping, so
`make demo`'s first minutes (a month of history uploading while the meters send every 15 s)
play out deterministically here."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from servidor.app import readings_dir
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from tests.conftest import Running, start_server, stop_server

M = "/api/v1/medidores"
SILENCE_S = 60          # what the demo's agents ask for (3 × their interval, at least a minute)
LIVE_EVERY_S = 15       # the demo's meters send every 15 s
HISTORY_STEP_S = 60     # one reading a minute keeps a month of history quick to post
BATCH = 1000


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked(tmp_path: Path):
    clock = Clock(time.time())
    db = tmp_path / "db.json"
    running = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db,
                           clock=clock, housekeeping_s=3600.0)
    yield running, clock
    stop_server(running)


def alerts(running: Running, meter: str) -> list[dict]:
    return running.admin.get(f"{M}/{meter}/alertas").json["alertas"]


def test_a_month_of_history_uploading_beside_live_meters_raises_no_silence(clocked):
    running, clock = clocked
    backfill = running.client(running.create_meter("casa", silencio_s=SILENCE_S)[0])
    live = running.client(running.create_meter("loja", silencio_s=SILENCE_S)[0])
    start_ms = int(clock.now * 1000) - 30 * 86_400_000
    history = [{"seq": n, "ts": start_ms + n * HISTORY_STEP_S * 1000, "energia_wh": n * 10.0}
               for n in range(30 * 86_400 // HISTORY_STEP_S)]
    live_seq = 0
    for first in range(0, len(history), BATCH):
        # Each batch takes a quarter of a minute to arrive, while the other meter keeps sending;
        # the housekeeping thread looks in between, as it would every 30 s.
        assert backfill.post(f"{M}/casa/leituras", {"leituras": history[first:first + BATCH]}).status == 200
        clock.now += LIVE_EVERY_S
        live_seq += 1
        assert live.post(f"{M}/loja/leituras", {"seq": live_seq, "ts": int(clock.now * 1000),
                                                "energia_wh": live_seq * 5.0}).status == 200
        running.app.housekeeper.run_once()
    # 44 batches: eleven minutes of fake time, the newest history reading ~10 min old at the end,
    # and days old while the upload was half-way.
    assert clock.now - history[len(history) // 2]["ts"] / 1000 > 10 * 86_400
    assert alerts(running, "casa") == [] and alerts(running, "loja") == []


def test_a_meter_that_stops_is_alerted_once_and_the_alert_closes_when_it_speaks(clocked):
    running, clock = clocked
    agent = running.client(running.create_meter("casa", silencio_s=SILENCE_S)[0])
    agent.post(f"{M}/casa/leituras", {"seq": 1, "ts": int(clock.now * 1000), "energia_wh": 1.0})
    clock.now += SILENCE_S - 1
    running.app.housekeeper.run_once()
    assert alerts(running, "casa") == []
    clock.now += 2
    running.app.housekeeper.run_once()
    clock.now += 120
    running.app.housekeeper.run_once()  # still the same silence: no second alert
    [silence] = alerts(running, "casa")
    assert silence["tipo"] == "silencio" and silence["reconhecido"] is False
    assert "sem leituras há 1 min" in silence["mensagem"]
    assert running.admin.get(f"{M}/casa").json["resumo"]["alertas_ativos"] == 1
    # It speaks again (an old reading from its spool counts: it arrived now).
    agent.post(f"{M}/casa/leituras", {"seq": 2, "ts": int(clock.now * 1000) - 100_000, "energia_wh": 2.0})
    [closed] = alerts(running, "casa")
    assert closed["reconhecido"] is True and closed["resolvido_em"] is not None
    assert running.admin.get(f"{M}/casa").json["resumo"]["alertas_ativos"] == 0
    clock.now += SILENCE_S + 1  # a new silence is a new alert
    running.app.housekeeper.run_once()
    assert [a["reconhecido"] for a in alerts(running, "casa")] == [False, True]


def test_after_a_restart_silence_counts_from_the_start_not_from_the_last_reading(tmp_path: Path):
    """The server was down a week: its meters could not speak to it, so none is silent yet."""
    db = tmp_path / "db.json"
    clock = Clock(time.time() - 7 * 86_400)
    running = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db,
                           clock=clock, housekeeping_s=3600.0)
    agent = running.client(running.create_meter("casa", silencio_s=SILENCE_S)[0])
    agent.post(f"{M}/casa/leituras", {"seq": 1, "ts": int(clock.now * 1000), "energia_wh": 1.0})
    stop_server(running)
    clock.now += 7 * 86_400
    again = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db,
                         clock=clock, housekeeping_s=3600.0)
    try:
        again.app.housekeeper.run_once()
        assert alerts(again, "casa") == []
        clock.now += SILENCE_S + 1
        again.app.housekeeper.run_once()
        [silence] = alerts(again, "casa")
        assert silence["tipo"] == "silencio" and "1 min" in silence["mensagem"]
    finally:
        stop_server(again)


def test_an_open_silence_alert_survives_a_restart_without_a_twin_and_still_closes(tmp_path: Path):
    db = tmp_path / "db.json"
    clock = Clock(time.time() - 3600)
    running = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db,
                           clock=clock, housekeeping_s=3600.0)
    write, _ = running.create_meter("casa", silencio_s=SILENCE_S)
    running.client(write).post(f"{M}/casa/leituras", {"seq": 1, "ts": int(clock.now * 1000), "energia_wh": 1.0})
    clock.now += SILENCE_S + 1
    running.app.housekeeper.run_once()
    stop_server(running)
    clock.now += 10 * SILENCE_S
    again = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db,
                         clock=clock, housekeeping_s=3600.0)
    try:
        again.app.housekeeper.run_once()
        assert len(alerts(again, "casa")) == 1
        again.client(write).post(f"{M}/casa/leituras", {"seq": 2, "ts": int(clock.now * 1000), "energia_wh": 2.0})
        assert [a["reconhecido"] for a in alerts(again, "casa")] == [True]
    finally:
        stop_server(again)
