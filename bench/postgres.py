"""Benchmark: readings ingest and month queries on PostgreSQL against the embedded store.

    .venv/bin/python bench/postgres.py [--rounds 3] [--saida bench/RESULTS.md]

In one process, through the readings interface (`append`, `energy`, `day_energy`), each round
runs, for both stores in alternating order (so both see the same machine load):
  - batched ingest: 4 threads, each appending batches of 1,000 readings to its own meter;
  - single-reading ingest: 16 threads appending one reading per call (each one committed);
  - the month query: a meter holding a month of 10-s readings (259,200), its month's energy
    and its 30 local days, 25 times each.
The embedded store is durable (every fsync); PostgreSQL commits synchronously, at
127.0.0.1:5432 (MONITOR_TESTE_POSTGRES), in a schema made for the run and dropped after it.
CPU per reading is this process's CPU time and, for PostgreSQL, also its server processes'
(read from /proc): on this 2-core machine the database shares the CPU with the server.
The figures go into bench/RESULTS.md, inside the kept notes, between postgresql markers.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import NOTES_BEGIN, NOTES_END, machine_info  # noqa: E402  (bench/ is on sys.path)

from servidor.store.readings import ReadingStore  # noqa: E402
from shared.models import Reading  # noqa: E402

URL = os.environ.get("MONITOR_TESTE_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BEGIN = "<!-- postgresql: written by bench/postgres.py -->"
END = "<!-- /postgresql -->"
BATCH = 1000
BATCH_THREADS, BATCHES_PER_THREAD = 4, 25
SINGLE_THREADS, SINGLES_PER_THREAD = 16, 150
MONTH_READINGS = 30 * 8640
QUERIES = 25
T0 = int(datetime(2026, 9, 1, 3, tzinfo=timezone.utc).timestamp()) * 1000
TZ = ZoneInfo("America/Sao_Paulo")


# Set on every connection of the run (libpq's application_name), to tell its database processes
# from those of anyone else using the same PostgreSQL.
APP = f"monitor-bench-{uuid.uuid4().hex[:8]}"


def with_schema(schema: str) -> str:
    """URL of the run: its schema, and its application_name."""
    options = quote(f"-csearch_path={schema}")
    return f"{URL}{'&' if '?' in URL else '?'}options={options}&application_name={APP}"


def postgres_cpu_s() -> float:
    """CPU seconds used so far by the database's processes serving this run: the backends of its
    connections (by application_name) and the WAL writer, checkpointer and background writer,
    which work for every client (others' share of those is counted too)."""
    import psycopg

    with psycopg.connect(URL, autocommit=True) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
            "OR backend_type IN ('walwriter', 'checkpointer', 'background writer')", (APP,))]
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total / tick


def threads(count: int, work) -> float:
    barrier = threading.Barrier(count + 1)

    def body(k: int) -> None:
        barrier.wait()
        work(k)

    pool = [threading.Thread(target=body, args=(k,)) for k in range(count)]
    for thread in pool:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in pool:
        thread.join()
    return time.perf_counter() - start


def measure(store, prefix: str) -> dict[str, float]:
    out: dict[str, float] = {}
    cpu, db_cpu = time.process_time(), postgres_cpu_s()

    def batched(k: int) -> None:
        for b in range(BATCHES_PER_THREAD):
            base = b * BATCH
            store.append(f"{prefix}l{k}", [Reading(base + i, T0 + (base + i) * 10_000, (base + i) * 2.0, 700.0)
                                           for i in range(BATCH)])

    elapsed = threads(BATCH_THREADS, batched)
    n = BATCH_THREADS * BATCHES_PER_THREAD * BATCH
    out["batched_rps"] = n / elapsed
    out["batched_cpu_us"] = (time.process_time() - cpu) / n * 1e6
    out["batched_db_cpu_us"] = (postgres_cpu_s() - db_cpu) / n * 1e6

    def singles(k: int) -> None:
        for i in range(SINGLES_PER_THREAD):
            store.append(f"{prefix}u{k}", [Reading(i, T0 + i * 10_000, i * 2.0)])

    out["single_rps"] = SINGLE_THREADS * SINGLES_PER_THREAD / threads(SINGLE_THREADS, singles)

    meter = f"{prefix}mes"
    store.set_timezone(meter, TZ)
    for start in range(0, MONTH_READINGS, BATCH):
        store.append(meter, [Reading(i, T0 + i * 10_000, i * 1.5) for i in range(start, min(start + BATCH, MONTH_READINGS))])
    month_ms, days_ms = [], []
    end = T0 + 30 * 86_400_000
    for _ in range(QUERIES):
        t = time.perf_counter()
        wh, _ = store.energy(meter, T0, end)
        month_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        days = store.day_energy(meter, date(2026, 9, 1), date(2026, 9, 30))
        days_ms.append((time.perf_counter() - t) * 1000)
    assert abs(wh - (MONTH_READINGS - 1) * 1.5) < 1e-3 and len(days) == 30, (wh, len(days))
    out["month_ms"] = statistics.median(month_ms)
    out["days_ms"] = statistics.median(days_ms)
    return out


def run_postgres(prefix: str, schema: str) -> dict[str, float]:
    from servidor.store.postgres import open_postgres

    docs, store = open_postgres(with_schema(schema), listen=False)
    try:
        return measure(store, prefix)
    finally:
        store.close()
        docs.close()


def month_at_scale(schema: str, meters: int, per_meter: int) -> dict[str, float]:
    """Month queries of one meter among `meters` × `per_meter` 10-s readings (10 M by default),
    loaded by SQL (generate_series) rather than through append, which would take an hour here."""
    from servidor.store.postgres import open_postgres

    docs, store = open_postgres(with_schema(schema), listen=False)
    try:
        end_ms = T0 + per_meter * 10_000
        month = T0
        while month < end_ms:  # one reading a month through the interface: it makes the partitions
            store.append("particoes", [Reading(month // 1000, month, 0.0)])
            month += 28 * 86_400_000
        store.append("particoes", [Reading(end_ms // 1000, end_ms, 0.0)])
        started = time.perf_counter()
        with store._db.transaction() as conn:  # noqa: SLF001 (a benchmark's bulk load, not the API)
            conn.execute("INSERT INTO readings (stream, ts, seq, energy, power, flags) "
                         "SELECT 'g' || m, %s::bigint + i::bigint * 10000, i, i * 1.5, 700, 0 "
                         "FROM generate_series(0, %s) m, generate_series(0, %s) i",
                         (T0, meters - 1, per_meter - 1))
            conn.execute("INSERT INTO rollup_buckets SELECT 'g' || m, b, 135.0, 900000 "
                         "FROM generate_series(0, %s) m, generate_series(%s, %s) b",
                         (meters - 1, T0 // 900_000, (end_ms - 1) // 900_000))
            conn.execute("INSERT INTO streams (stream, zone, readings, max_seq, last_ts, last_seq, last_energy) "
                         "SELECT 'g' || m, 'America/Sao_Paulo', %s, %s, %s, %s, %s FROM generate_series(0, %s) m",
                         (per_meter, per_meter - 1, T0 + (per_meter - 1) * 10_000, per_meter - 1,
                          (per_meter - 1) * 1.5, meters - 1))
        load_s = time.perf_counter() - started
        with store._db.transaction() as conn:  # noqa: SLF001
            conn.execute("ANALYZE")
        meter, first = f"g{meters // 2}", date(2026, 10, 1)
        lo = int(datetime(2026, 10, 1, 3, tzinfo=timezone.utc).timestamp()) * 1000
        hi = int(datetime(2026, 11, 1, 3, tzinfo=timezone.utc).timestamp()) * 1000
        timings: dict[str, list[float]] = {"month_ms": [], "days_ms": [], "raw_ms": []}
        for _ in range(QUERIES):
            for key, query in (("month_ms", lambda: store.energy(meter, lo, hi)),
                               ("days_ms", lambda: store.day_energy(meter, first, date(2026, 10, 31))),
                               ("raw_ms", lambda: store.readings(meter, lo + 15 * 86_400_000, hi, limit=1000))):
                t = time.perf_counter()
                query()
                timings[key].append((time.perf_counter() - t) * 1000)
        out = {key: statistics.median(values) for key, values in timings.items()}
        out["total"] = meters * per_meter
        out["load_s"] = load_s
        return out
    finally:
        store.close()
        docs.close()


def run_embedded(prefix: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, ReadingStore.open(Path(tmp) / "leituras") as store:
        return measure(store, prefix)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--medidores-grandes", type=int, default=10, help="meters of the large table")
    parser.add_argument("--leituras-por-medidor", type=int, default=1_000_000, help="10-s readings of each")
    parser.add_argument("--saida", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md")
    args = parser.parse_args()
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    results: dict[str, list[dict[str, float]]] = {"embutido": [], "postgresql": []}
    load_before = os.getloadavg()[0]
    try:
        for r in range(args.rounds):
            order = ["embutido", "postgresql"] if r % 2 == 0 else ["postgresql", "embutido"]
            for kind in order:
                prefix = f"r{r}"
                results[kind].append(run_embedded(prefix) if kind == "embutido" else run_postgres(prefix, schema))
                print(kind, {k: round(v, 2) for k, v in results[kind][-1].items()}, flush=True)
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
        scale = month_at_scale(schema, args.medidores_grandes, args.leituras_por_medidor)
        print("scale", scale, flush=True)
    finally:
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    block = report(results, load_before, os.getloadavg()[0], args.rounds, scale)
    print(block)
    _write(args.saida, block)
    return 0


def report(results: dict, load_before: float, load_after: float, rounds: int, scale: dict[str, float]) -> str:
    def med(kind: str, key: str) -> float:
        return statistics.median(x[key] for x in results[kind])

    def span(kind: str, key: str, fmt: str) -> str:
        values = [x[key] for x in results[kind]]
        return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"

    info = machine_info()
    pg_cpu = med("postgresql", "batched_cpu_us") + med("postgresql", "batched_db_cpu_us")
    rows = [
        ("batched ingest, readings/s (4 threads × 1,000 per append)", "batched_rps", ",.0f"),
        ("single-reading ingest, readings/s (16 threads, one per append)", "single_rps", ",.0f"),
        ("CPU of this process per batched reading, µs", "batched_cpu_us", ".2f"),
        ("month's energy of a meter with 259,200 readings, ms", "month_ms", ".2f"),
        ("its 30 local days, ms", "days_ms", ".2f"),
    ]
    lines = [BEGIN, "### PostgreSQL against the embedded store (bench/postgres.py)", "",
             f"Run on {info['date']}: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}; "
             f"shared machine (1-min load {load_before:.2f} before, {load_after:.2f} after); PostgreSQL at "
             f"127.0.0.1, synchronous commit; embedded store durable (fsync). In one process, through the "
             f"readings interface; medians (min–max) of {rounds} interleaved rounds.", "",
             "| figure | embedded store | PostgreSQL |", "|---|---|---|"]
    for label, key, fmt in rows:
        lines.append(f"| {label} | {span('embutido', key, fmt)} | {span('postgresql', key, fmt)} |")
    lines.append(f"| CPU of the database's processes per batched reading, µs | — | "
                 f"{span('postgresql', 'batched_db_cpu_us', '.2f')} |")
    lines += ["", f"CPU per batched reading, server and database together: {pg_cpu:.2f} µs on PostgreSQL against "
              f"{med('embutido', 'batched_cpu_us'):.2f} µs embedded "
              f"({pg_cpu / med('embutido', 'batched_cpu_us'):.1f}×); this process alone: "
              f"{med('postgresql', 'batched_cpu_us') / med('embutido', 'batched_cpu_us'):.2f}×.", "",
              f"At scale, PostgreSQL only: {scale['total']:,.0f} readings (10-s, loaded by SQL in "
              f"{scale['load_s']:.0f} s, with their 15-minute rollups), one meter's October: energy "
              f"{scale['month_ms']:.2f} ms, its 31 local days {scale['days_ms']:.2f} ms, 1,000 raw readings from "
              f"mid-month {scale['raw_ms']:.2f} ms (medians of {QUERIES}).", END]
    return "\n".join(lines)


def _write(path: Path, block: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the block between `begin` and `end` inside the kept notes (so `make bench` keeps
    it), or add it."""
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n## Notes\n\n{NOTES_BEGIN}\n{NOTES_END}\n"
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    elif NOTES_END in text:
        text = text.replace(NOTES_END, f"\n{block}\n{NOTES_END}", 1)
    else:
        text += f"\n{block}\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
