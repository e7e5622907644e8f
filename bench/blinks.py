"""Blink storage: bytes per stored blink and blinks ingested per second (issue 11).

    .venv/bin/python bench/blinks.py [--dias 365] [--saida bench/RESULTS-blinks.md]

1. Size: a year (or `--dias`) of blinks of a 1000 imp/kWh meter averaging 1 kW, with a daily
   load shape (300 W at night, 2.5 kW at dinner), short random spikes, and a host stamp that
   jitters by a few ms around the Arduino's interval, one reading of blinks per 10 s, appended to
   a durable BlinkStore an hour of readings at a time (the files are the same as with one append
   per reading; a year of single fsyncs would take hours); then the bytes of its files divided
   by the points, the time to reopen it, to answer a month of /hourly, a day of /aggregate by
   minute and the whole span by day,
   and the rate of single-reading appends (~3 blinks each, one fsync each).
2. Ingest through HTTP: a real server (App + HttpServer) on port 0, one meter's agent posting
   batches of 1000 readings × 10 blinks (catch-up after an outage) and single readings with 3
   blinks (live); blinks per second stored, each request fsynced.
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from servidor.app import App, Settings, readings_dir  # noqa: E402
from servidor.net import DEFAULT_SERVER_LIMITS  # noqa: E402
from servidor.store.blinks import BlinkStore  # noqa: E402
from servidor.store.documents import DocumentStore  # noqa: E402
from servidor.store.readings import ReadingStore  # noqa: E402

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
N = 1000  # imp/kWh
ADMIN = "bench-admin"


def load_w(t_ms: int, rng: random.Random) -> float:
    hour = (t_ms // 3_600_000) % 24
    base = 300 + 700 * (7 <= hour < 23) + 1500 * (18 <= hour < 21)
    return base * (1.6 if rng.random() < 0.02 else 1.0)  # ~1 kW on average


def year_of_blinks(days: int, seed: int = 11):
    """Yields the blinks of one reading (10 s) at a time, as (seq, points)."""
    rng = random.Random(seed)
    stamp = T0
    end = T0 + days * 86_400_000
    seq = 0
    window_end = T0 + 10_000
    batch: list[tuple[int, int]] = []
    while stamp < end:
        # The load wanders ±5 % blink to blink (motors, thermostats, the meter's own resolution).
        ms = max(1, int(3_600_000_000 / (N * load_w(stamp, rng) * rng.uniform(0.95, 1.05))))
        stamp += ms
        batch.append((stamp + rng.randint(0, 4), ms))  # host stamp: arrival, a few ms late
        if stamp >= window_end:
            yield seq, batch
            seq += 1
            batch = []
            window_end = stamp - stamp % 10_000 + 10_000
    if batch:
        yield seq, batch


def measure_size(days: int, directory: Path) -> dict:
    store = BlinkStore.open(directory)
    points = 0
    hour: list = []
    for seq, batch in year_of_blinks(days):
        hour.append((seq, batch))
        if len(hour) == 360:
            points += store.append("medidor", hour)
            hour = []
    points += store.append("medidor", hour)
    singles = BlinkStore.open(directory.with_name("singles"))
    started = time.perf_counter()
    single_points = 0
    for seq, batch in year_of_blinks(1):
        single_points += singles.append("medidor", [(seq, batch)])
        if seq == 2000:
            break
    ingest_s = time.perf_counter() - started
    singles.delete("medidor")
    singles.close()
    size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    store.close()
    started = time.perf_counter()
    reopened = BlinkStore.open(directory)
    open_s = time.perf_counter() - started
    started = time.perf_counter()
    month = reopened.hours("medidor", T0, T0 + 30 * 86_400_000)
    hourly_s = time.perf_counter() - started
    day_start = T0 + (days // 2) * 86_400_000
    started = time.perf_counter()
    reopened.bucket_counts("medidor", day_start, 60_000, 1440)  # /aggregate: a day by minute
    aggregate_s = time.perf_counter() - started
    started = time.perf_counter()
    reopened.bucket_counts("medidor", T0, 86_400_000, days)  # /aggregate: the whole span by day
    aggregate_year_s = time.perf_counter() - started
    reopened.close()
    return {"dias": days, "pulsos": points, "bytes": size, "bytes_por_pulso": size / points,
            "ingestao_loja_pulsos_s": single_points / ingest_s, "abrir_s": open_s, "horas_mes": len(month),
            "hourly_mes_ms": hourly_s * 1000, "aggregate_dia_ms": aggregate_s * 1000,
            "aggregate_ano_ms": aggregate_year_s * 1000}


def _post(conn: http.client.HTTPConnection, path: str, body: dict, key: str) -> dict:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    reply = conn.getresponse()
    data = reply.read()
    assert reply.status in (200, 201), data
    return json.loads(data)


def measure_http(directory: Path) -> dict:
    db = directory / "db.json"
    app = App(DocumentStore.open(db), ReadingStore.open(readings_dir(db)),
              Settings(admin_key=ADMIN, registration_key="bench-registro", key_cost=2**4, webhooks=False),
              announce=lambda _: None)
    # One client sends everything: the per-client rate limit would measure itself, not the store.
    server = app.listen(server_limits=DEFAULT_SERVER_LIMITS.per_client(0, 0))
    server.start()
    app.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.address[1], timeout=60)
        key = _post(conn, "/api/v1/medidores", {"id": "pulso"}, ADMIN)["chave_escrita"]
        now = int(time.time() * 1000) - 3 * 86_400_000
        stamp, seq, out = now, 0, {}
        for label, readings, per, rounds in (("lote_1000x10", 1000, 10, 10), ("leitura_1x3", 1, 3, 500)):
            started = time.perf_counter()
            total = 0
            for _ in range(rounds):
                batch = []
                for _ in range(readings):
                    pulses = []
                    for _ in range(per):
                        stamp += 360
                        pulses.append([stamp, 360])
                    batch.append({"seq": seq, "ts": stamp, "energia_wh": float(seq), "pulsos": pulses})
                    seq += 1
                    total += per
                _post(conn, "/api/v1/medidores/pulso/leituras", {"leituras": batch}, key)
            out[label] = total / (time.perf_counter() - started)
        conn.close()
        return out
    finally:
        server.shutdown()
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Mede o armazenamento de pulsos (bytes por pulso, pulsos/s).")
    parser.add_argument("--dias", type=int, default=365, help="dias de pulsos simulados (padrão: 365)")
    parser.add_argument("--saida", type=Path, default=None, help="arquivo Markdown para o resultado")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        size = measure_size(args.dias, Path(tmp) / "pulsos")
    with tempfile.TemporaryDirectory() as tmp:
        http_rates = measure_http(Path(tmp))
    lines = [
        f"- {size['dias']} dias a ~1 kW, 1000 imp/kWh: {size['pulsos']:,} pulsos em {size['bytes']:,} bytes = "
        f"**{size['bytes_por_pulso']:.2f} bytes por pulso** (blocos comprimidos + diário)",
        f"- gravação direta na loja, uma requisição por leitura de 10 s (fsync cada): "
        f"{size['ingestao_loja_pulsos_s']:,.0f} pulsos/s",
        f"- reabrir a loja: {size['abrir_s'] * 1000:.0f} ms; /hourly de um mês ({size['horas_mes']} horas): "
        f"{size['hourly_mes_ms']:.1f} ms; /aggregate de um dia por minuto: {size['aggregate_dia_ms']:.1f} ms, "
        f"de {size['dias']} dias por dia: {size['aggregate_ano_ms']:.1f} ms",
        f"- HTTP, lotes de 1000 leituras × 10 pulsos: {http_rates['lote_1000x10']:,.0f} pulsos/s; "
        f"uma leitura × 3 pulsos por requisição: {http_rates['leitura_1x3']:,.0f} pulsos/s",
    ]
    text = "\n".join(lines)
    print(text)
    if args.saida:
        args.saida.write_text("# Pulsos (bench/blinks.py)\n\n" + text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
