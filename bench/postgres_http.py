"""Benchmark: batched ingest over HTTP, embedded store against one and two servers on PostgreSQL.

    .venv/bin/python bench/postgres_http.py [--rounds 3] [--saida bench/RESULTS.md]

Real `servidor` processes (bench/servers.py) on port 0; the load comes from 2 other processes
(bench/load.py), 8 connections each posting batches of 1,000 readings of its own meter. Three
set-ups, interleaved round by round so the machine's load falls on all alike:
  - one server on the embedded store (durable);
  - one server with `--banco` (PostgreSQL at MONITOR_TESTE_POSTGRES, a schema for the run);
  - two servers on that same database, the connections split between them.
Reported: readings/s, and CPU per reading of the servers (from /proc) and of the database's
processes. On this 2-core machine the database, the servers and the load share the cores.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feed import MeterFeed  # noqa: E402  (bench/ is on sys.path)
from load import ConnPlan, run_load  # noqa: E402
from postgres import URL, _write, postgres_cpu_s, with_schema  # noqa: E402
from report import machine_info  # noqa: E402
from servers import MonitorServer  # noqa: E402

BEGIN = "<!-- postgresql-http: written by bench/postgres_http.py -->"
END = "<!-- /postgresql-http -->"
METERS = 8
BATCH = 1000
RUN_S = 4.0
SETUPS = ("embutido", "pg1", "pg2")


def start(setup: str, url: str) -> tuple[list[MonitorServer], list[MeterFeed]]:
    banco = ("--banco", url) if setup != "embutido" else ()
    first = MonitorServer(f"{setup}-a", extra_args=banco)
    feeds = []
    for n in range(METERS):
        meter = f"{setup}-{uuid.uuid4().hex[:6]}-{n}"
        status, body = first.call("POST", "/api/v1/medidores", {"id": meter, "nome": meter}, first.admin_key)
        assert status == 201, body
        feeds.append(MeterFeed.new(meter, body["chave_escrita"]))
    servers = [first]
    if setup == "pg2":  # started after the meters: its own admin key replaces the first's, not theirs
        servers.append(MonitorServer(f"{setup}-b", extra_args=banco))
    return servers, feeds


def children_cpu() -> float:
    """CPU seconds of this process's finished children: the load processes, once joined."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all the machine's CPUs so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]   # idle and iowait
    return sum(fields) - idle, sum(fields)


def one_round(servers: list[MonitorServer], feeds: list[MeterFeed], per_conn: int) -> dict[str, float]:
    cpu, db_cpu, machine, load_cpu = sum(s.cpu_seconds() for s in servers), postgres_cpu_s(), machine_cpu(), children_cpu()
    plans = [ConnPlan(feeds=[f], batch=BATCH, requests=per_conn, port=servers[i % len(servers)].port)
             for i, f in enumerate(feeds)]
    result = run_load(servers[0].host, servers[0].port, plans, processes=2)
    bad = {s: n for s, n in result.statuses.items() if not 200 <= s < 300}
    assert not bad and not result.errors, (bad, result.errors[:3])
    busy, total = (now - before for now, before in zip(machine_cpu(), machine))
    return {"rps": result.readings_per_s, "busy": busy / max(total, 1) * 100,
            "cpu_us": (sum(s.cpu_seconds() for s in servers) - cpu) / result.readings * 1e6,
            "db_us": (postgres_cpu_s() - db_cpu) / result.readings * 1e6,
            "load_us": (children_cpu() - load_cpu) / result.readings * 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--saida", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md")
    args = parser.parse_args()
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    url = with_schema(schema)
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    results: dict[str, list[dict[str, float]]] = {s: [] for s in SETUPS}
    load_before = os.getloadavg()[0]
    running: dict[str, tuple[list[MonitorServer], list[MeterFeed]]] = {}
    sizes = {s: 20 for s in SETUPS}
    try:
        for setup in SETUPS:
            running[setup] = start(setup, url)
        for r in range(args.rounds):
            for setup in (SETUPS if r % 2 == 0 else SETUPS[::-1]):
                servers, feeds = running[setup]
                out = one_round(servers, feeds, sizes[setup])
                results[setup].append(out)
                sizes[setup] = max(10, min(400, int(out["rps"] * RUN_S / BATCH / METERS)))
                print(setup, {k: round(v, 2) for k, v in out.items()}, flush=True)
    finally:
        for servers, _ in running.values():
            for server in servers:
                server.stop()
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    block = report(results, load_before, os.getloadavg()[0], args.rounds)
    print(block)
    _write(args.saida, block, BEGIN, END)
    return 0


def report(results: dict, load_before: float, load_after: float, rounds: int) -> str:
    def span(setup: str, key: str, fmt: str) -> str:
        values = [x[key] for x in results[setup]]
        return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"

    def med(setup: str, key: str) -> float:
        return statistics.median(x[key] for x in results[setup])

    info = machine_info()
    lines = [BEGIN, "### Batched ingest over HTTP: embedded store, one and two servers on PostgreSQL "
             "(bench/postgres_http.py)", "",
             f"Run on {info['date']}: {info['nproc']} CPUs ({info['cpu']}); shared machine (1-min load "
             f"{load_before:.2f} before, {load_after:.2f} after). {METERS} connections from 2 load processes, "
             f"{BATCH:,} readings per request; medians (min–max) of {rounds} interleaved rounds.", "",
             "| figure | embedded, 1 server | PostgreSQL, 1 server | PostgreSQL, 2 servers |", "|---|---|---|---|"]
    for label, key, fmt in (("readings/s", "rps", ",.0f"), ("servers' CPU per reading, µs", "cpu_us", ".2f"),
                            ("database's CPU per reading, µs", "db_us", ".2f"),
                            ("load generator's CPU per reading, µs", "load_us", ".2f"),
                            ("machine's CPUs busy (everything: load, servers, database), %", "busy", ".0f")):
        lines.append(f"| {label} | " + " | ".join(span(s, key, fmt) for s in SETUPS) + " |")
    lines += ["", f"Server CPU per batched reading on PostgreSQL: {med('pg1', 'cpu_us') / med('embutido', 'cpu_us'):.2f}× "
              f"the embedded store's (target ≤ 1.5×); two servers: {med('pg2', 'rps') / med('pg1', 'rps'):.2f}× one "
              "server's readings/s (target ≥ 1.2×).", "", where_the_limit_is(med), END]
    return "\n".join(lines)


def where_the_limit_is(med) -> str:
    """What the figures say bounds the PostgreSQL set-ups, in a sentence."""
    total = med("pg1", "cpu_us") + med("pg1", "db_us") + med("pg1", "load_us")
    share = med("pg1", "db_us") / total * 100
    busy1, busy2 = med("pg1", "busy"), med("pg2", "busy")
    if busy1 >= 85:
        return (f"Where the limit is: the machine's CPU. With one server on PostgreSQL its CPUs were already "
                f"{busy1:.0f}% busy ({busy2:.0f}% with two), and of the {total:.1f} µs of CPU each reading costs "
                f"(server, database, load generator) the database takes {share:.0f}%: a second server finds no "
                "idle core, so two servers can only scale where the database has cores of its own.")
    return (f"Where the limit is: not the machine's CPU ({busy1:.0f}% busy with one server, {busy2:.0f}% with "
            f"two); the database takes {share:.0f}% of the {total:.1f} µs of CPU per reading, so the wait is "
            "for its commits (fsync) and round trips.")


if __name__ == "__main__":
    sys.exit(main())
