"""/metrics in Prometheus' text format: requests, latency, readings, store, meters, connections."""
from __future__ import annotations

import re

from servidor.api.metrics import Metrics

M = "/api/v1/medidores"


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, value = line.rsplit(" ", 1)
        if series.split("{")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    raise AssertionError(f"{name} {labels} not in metrics")


def test_metrics_count_requests_readings_and_connections(servidor):
    write, _ = servidor.create_meter("met")
    agent = servidor.client(write)
    rows = [{"seq": i, "ts": 1_790_000_000_000 + i * 10_000, "energia_wh": i} for i in range(5)]
    agent.post(f"{M}/met/leituras", {"leituras": rows})
    agent.post(f"{M}/met/leituras", {"leituras": rows[:2] + [{"seq": 9, "ts": "x", "energia_wh": 1}]})
    servidor.admin.get("/api/v1/nada")
    reply = servidor.client().get("/metrics")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = reply.body.decode()
    assert sample(text, "monitor_requests_total", rota="/api/v1/medidores/{id}/leituras", metodo="POST", status="200") == 2
    assert sample(text, "monitor_requests_total", rota="(desconhecida)", status="404") == 1
    assert sample(text, "monitor_readings_ingested_total") == 5
    assert sample(text, "monitor_readings_duplicate_total") == 2
    assert sample(text, "monitor_readings_rejected_total") == 1
    assert sample(text, "monitor_readings_stored") == 5
    assert sample(text, "monitor_meters") == 1
    assert sample(text, "monitor_open_connections") >= 1
    assert sample(text, "monitor_request_duration_seconds_count", rota="/api/v1/medidores/{id}/leituras") == 2
    assert sample(text, "monitor_store_bytes") > 0


def test_histogram_buckets_are_cumulative_and_end_with_inf():
    metrics = Metrics()
    for seconds in (0.0005, 0.003, 0.003, 2.0):
        metrics.observe("/x", "GET", 200, seconds)
    text = metrics.render(lambda: {})
    assert sample(text, "monitor_request_duration_seconds_bucket", rota="/x", le="0.001") == 1
    assert sample(text, "monitor_request_duration_seconds_bucket", rota="/x", le="0.005") == 3
    assert sample(text, "monitor_request_duration_seconds_bucket", rota="/x", le="+Inf") == 4
    assert sample(text, "monitor_request_duration_seconds_count", rota="/x") == 4


def test_metrics_answer_only_get_head_and_options(servidor):
    reply = servidor.client().call("POST", "/metrics", raw=b"")
    assert reply.status == 405 and reply.headers["allow"] == "GET, HEAD, OPTIONS"
