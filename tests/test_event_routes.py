"""energy-sensors on the server: the line format, /log/store (text, JSON, JSON in a string),
/log/parse, the live view of sensor-<ID>, and /clusters/summary against scikit-learn itself."""
from __future__ import annotations

import http.client
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from hypothesis import given, strategies as st
from sklearn.cluster import MeanShift, estimate_bandwidth

from servidor.app import events_dir, readings_dir
from servidor.domain.event_line import EventError, features, from_json, parse_line
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from tests.conftest import Running, start_server, stop_server
from tests.server_process import start as start_server_process

LINE = ("Device: ID=1; Fw=16071801; Evt=2; Alarms: CoilRevesed=OFF; Power: Active=1753W; Reactive=279var; "
        "Appearent=403VA; Line: Current=7.359; Voltage=230.08V; Phase=-43,841rad; Peaks: 7.33;7.29;7.37;7.01; "
        "FFT Re: 9748;46;-12; FFT Img: 2712;0;5; UTC Time: 2016-10-4 16:47:50; hz: 49.87; WiFi Strength: -62; "
        "Dummy: 20")
PARSED = {"Device": {"ID": 1, "Fw": 16071801, "Evt": 2}, "Alarms": {"CoilRevesed": False},
          "Power": {"Active": 1753, "Reactive": 279, "Appearent": 403},
          "Line": {"Current": 7.359, "Voltage": 230.08, "Phase": -43.841}, "Peaks": [7.33, 7.29, 7.37, 7.01],
          "FFT Re": [9748, 46, -12], "FFT Img": [2712, 0, 5], "UTC Time": "2016-10-4 16:47:50", "hz": 49.87,
          "WiFi Strength": -62, "Dummy": 20}
ROOT = Path(__file__).resolve().parent.parent


def test_a_line_parses_into_its_sections_with_units_commas_and_misspellings_kept():
    assert parse_line(LINE) == PARSED
    assert parse_line("Alarms: X=ON; Y=OFF; hz: 50,1") == {"Alarms": {"X": True, "Y": False}, "hz": 50.1}


@pytest.mark.parametrize("line, reason", [
    ("", "linha vazia"),
    ("ID=1; Power: Active=3W", "antes da primeira seção"),
    ("Power: Active=3W; Power: Active=4W", "repetida"),
    ("Power: =3", "chave vazia"),
    ("Power: Active=3; 7", "misturados"),
])
def test_malformed_lines_say_what_is_wrong(line: str, reason: str):
    with pytest.raises(EventError, match=reason):
        parse_line(line)


@pytest.mark.parametrize("drop, reason", [
    ("Power: Active=1753W; ", "falta Power.Active"),
    ("Device: ID=1; ", "falta Device.ID"),
    ("Peaks: 7.33;7.29;7.37;7.01; ", "Peaks precisa de pelo menos 3"),
])
def test_an_event_without_a_required_field_names_it(drop: str, reason: str):
    line = LINE.replace(drop, "Power: Active=1753W; " if drop.startswith("Device") else "")
    if drop.startswith("Device"):
        line = LINE.replace("Device: ID=1; Fw=16071801; Evt=2; ", "Device: Fw=16071801; ")
    with pytest.raises(EventError, match=reason):
        features(parse_line(line))


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    db = tmp_path / "db.json"
    r = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db, clusters_every=100)
    yield r
    stop_server(r)


def _post(running: Running, path: str, body: bytes, ctype: str) -> tuple[int, object]:
    reply = running.client().call("POST", path, raw=body, headers={"Content-Type": ctype})
    return reply.status, reply.json


def test_store_takes_a_line_the_parsed_form_and_a_string_holding_it(running: Running):
    assert _post(running, "/log/store", LINE.encode(), "text/plain") == (200, {})
    assert _post(running, "/log/store", json.dumps(PARSED).encode(), "application/json") == (200, {})
    assert _post(running, "/log/store", json.dumps(json.dumps(PARSED)).encode(), "application/json") == (200, {})
    events = running.app.services.events
    assert events.count == 3
    assert events._store.events() == [PARSED] * 3


def test_malformed_events_get_400_with_the_reason_and_store_nothing(running: Running):
    cases = [(LINE.replace("Active=1753W; ", "").encode(), "text/plain", "falta Power.Active"),
             (b"Power: Active=3W; Power: Active=4W", "text/plain", "repetida"),
             (b"{not json", "application/json", "JSON inválido"),
             (b'"just text"', "application/json", "string JSON"),
             (b"[1, 2]", "application/json", "objeto JSON"),
             (b"\xff\xfe", "text/plain", "UTF-8")]
    for body, ctype, reason in cases:
        status, answer = _post(running, "/log/store", body, ctype)
        assert status == 400 and reason in answer["error"], (body, answer)
    assert running.app.services.events.count == 0
    assert running.admin.get("/api/v1/medidores/sensor-1").status == 404


def test_parse_answers_the_parsed_event_and_stores_nothing(running: Running):
    assert _post(running, "/log/parse", LINE.encode(), "text/plain") == (200, PARSED)
    assert _post(running, "/log/parse", b"", "text/plain") == (400, {"error": "linha vazia"})
    assert running.app.services.events.count == 0
    assert running.client().call("OPTIONS", "/log/store").status == 200


def test_each_event_feeds_the_live_view_of_its_sensor_meter(running: Running):
    for second, active in ((50, 1000), (51, 2000), (52, 3000)):
        line = LINE.replace("Active=1753W", f"Active={active}W").replace("16:47:50", f"16:47:{second}")
        assert _post(running, "/log/store", line.encode(), "text/plain")[0] == 200
    reply = running.admin.get("/api/v1/medidores/sensor-1/leituras")
    readings = reply.json["leituras"]
    assert [r["potencia_w"] for r in readings] == [1000, 2000, 3000]
    assert readings[-1]["PAP"] == 403 and readings[-1]["estimada"] is True
    # 2000 W for 1 s then 3000 W for 1 s: 0.556 + 0.833 Wh.
    assert readings[-1]["energia_wh"] == pytest.approx(2000 / 3600 + 3000 / 3600, abs=0.01)


def event_file(path: Path, count: int = 1000, seed: int = 5) -> list[list[float]]:
    """`count` event lines of three appliances and a few odd events; returns their features."""
    rng = random.Random(seed)
    kinds = [(60, 10, 70, 0.3, 230), (1750, 280, 1800, 7.8, 229), (400, 350, 550, 2.4, 231)]
    rows, lines = [], []
    for n in range(count):
        if n % 97 == 0:
            base = (rng.uniform(5000, 9000), rng.uniform(-900, 900), rng.uniform(5000, 9000), rng.uniform(20, 40), 215)
        else:
            base = kinds[rng.randrange(3)]
        active, reactive, apparent, current, voltage = (round(v * rng.uniform(0.97, 1.03), 3) for v in base)
        peaks = [round(current * rng.uniform(1.3, 1.5), 2) for _ in range(4)]
        stamp = f"2016-10-{1 + n // 400} {n % 24}:{n % 60:02d}:{(n * 7) % 60:02d}"
        lines.append(f"Device: ID={1 + n % 3}; Fw=16071801; Evt={n}; Alarms: CoilRevesed=OFF; Power: "
                     f"Active={str(active).replace('.', ',')}W; Reactive={reactive}var; Appearent={apparent}VA; "
                     f"Line: Current={current}; Voltage={voltage}V; Phase=-0,5rad; Peaks: {';'.join(map(str, peaks))}; "
                     f"UTC Time: {stamp}; hz: 50.01; WiFi Strength: -60")
        rows.append([active, reactive, apparent, current, voltage, *peaks[:3]])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


def sklearn_summary(rows: list[list[float]]) -> list[dict]:
    """energy-sensors' computation, written out here with scikit-learn directly."""
    data = np.array(rows)
    bandwidth = estimate_bandwidth(data, quantile=0.2, n_samples=200)
    labels = MeanShift(bandwidth=bandwidth, bin_seeding=True, cluster_all=False).fit(data).labels_
    out = []
    for label in sorted(set(labels)):
        members = data[labels == label]
        out.append({"label": int(label), "count": len(members), "avg_power_active_w": members[:, 0].mean(),
                    "avg_power_reactive_var": members[:, 1].mean(), "avg_power_apparent_va": members[:, 2].mean(),
                    "avg_line_current_a": members[:, 3].mean(), "avg_line_voltage_v": members[:, 4].mean()})
    return out


def _medidor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medidor", "enviar-eventos", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


@pytest.mark.slow
def test_a_thousand_lines_replayed_by_both_clients_give_scikit_learns_clusters(tmp_path: Path):
    events = tmp_path / "eventos.txt"
    rows = event_file(events)
    for distributed in (False, True):
        db = tmp_path / f"db-{distributed}.json"
        running = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db)
        parser = subprocess.Popen([sys.executable, "-m", "servidor", "--somente-parse", "--porta", "0"],
                                  stdout=subprocess.PIPE, text=True, cwd=ROOT) if distributed else None
        try:
            store_url = f"http://127.0.0.1:{running.port}/log/store"
            extra = []
            if parser is not None:
                announced = parser.stdout.readline()
                extra = ["--interpretar-em", announced.split()[-1]]
                assert announced.split()[-1].endswith("/log/parse"), announced
            done = _medidor(store_url, str(events), *extra)
            assert done.returncode == 0, done.stderr
            assert "1000 linhas: 1000 guardadas, 0 recusadas" in done.stdout
            assert "1000/1000" in done.stderr  # the progress bar
            worker = running.app.services.events.clusters
            assert worker.wait_idle(120) and worker.computed_over == 1000
            summary = running.client().get("/clusters/summary").json["clusters"]
        finally:
            if parser is not None:
                parser.terminate()
                parser.wait(10)
            stop_server(running)
        expected = sklearn_summary(rows)
        assert [(c["label"], c["count"]) for c in summary] == [(e["label"], e["count"]) for e in expected]
        assert len(summary) >= 3  # the three appliances, and whatever the odd events make
        for got, want in zip(summary, expected):
            for name, value in want.items():
                assert got[name] == pytest.approx(value, rel=1e-6), name
        assert len(list((events_dir(db)).glob("*.jsonl"))) == 1


@pytest.mark.slow
def test_an_acknowledged_event_survives_kill_9(tmp_path: Path):
    server = start_server_process(tmp_path / "db.json")
    try:
        for n in range(20):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("POST", "/log/store", LINE.replace("Evt=2", f"Evt={n}").encode(), {"Content-Type": "text/plain"})
            reply = conn.getresponse()
            assert reply.status == 200, reply.read()
            conn.close()
    finally:
        server.kill()
    lines = (tmp_path / "db.eventos" / "eventos.jsonl").read_text().splitlines()
    assert [json.loads(line)["evento"]["Device"]["Evt"] for line in lines] == list(range(20))


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.just(int("9" * 400)), st.floats(),
              st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.sampled_from(["Device", "ID", "Power", "Active", "Reactive", "Appearent",
                                                             "Line", "Current", "Voltage", "Peaks", "UTC Time", "hz"]),
                                            inner, max_size=6)),
    max_leaves=25)


@given(st.text(max_size=300) | st.sampled_from([LINE, LINE.replace("1753", "9" * 5000), LINE.replace(";", ":")]))
def test_any_text_is_an_event_or_a_reason(text: str):
    try:
        features(parse_line(text))
    except EventError:
        pass


@given(json_values)
def test_any_json_is_an_event_or_a_reason(value):
    try:
        features(from_json(value))
    except EventError:
        pass
